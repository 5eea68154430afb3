//go:build !purego

#include "textflag.h"

// func andCountGridAVX512(r, p *uint64, nvec int, tail uint64, cs, nx, stride, ny int, out *int32)
//
// For ix < nx, iy < ny: out[ix*ny+iy] = popcount of r AND the window at
// p + ix*cs + iy*stride (byte offsets), over nvec full vectors of 8 words
// and a tail of words selected by the mask tail (masked loads, which do
// not fault on the words left out).
TEXT ·andCountGridAVX512(SB), NOSPLIT, $0-72
	MOVQ  r+0(FP), SI
	MOVQ  p+8(FP), DI
	MOVQ  nvec+16(FP), R11
	KMOVQ tail+24(FP), K1
	MOVQ  cs+32(FP), R8
	MOVQ  nx+40(FP), R9
	MOVQ  stride+48(FP), R10
	MOVQ  out+64(FP), DX

ixloop:
	MOVQ DI, R13
	MOVQ ny+56(FP), R14

iyloop:
	VPXORQ Z0, Z0, Z0
	MOVQ   SI, AX
	MOVQ   R13, BX
	MOVQ   R11, CX
	TESTQ  CX, CX
	JZ     tail

vloop:
	VMOVDQU64 (AX), Z1
	VPANDQ    (BX), Z1, Z1
	VPOPCNTQ  Z1, Z1
	VPADDQ    Z1, Z0, Z0
	ADDQ      $64, AX
	ADDQ      $64, BX
	DECQ      CX
	JNZ       vloop

tail:
	VMOVDQU64.Z (AX), K1, Z1
	VMOVDQU64.Z (BX), K1, Z2
	VPANDQ      Z2, Z1, Z1
	VPOPCNTQ    Z1, Z1
	VPADDQ      Z1, Z0, Z0

	VEXTRACTI64X4 $1, Z0, Y1
	VPADDQ        Y1, Y0, Y0
	VEXTRACTI128  $1, Y0, X1
	VPADDQ        X1, X0, X0
	VPSHUFD       $0x4e, X0, X1
	VPADDQ        X1, X0, X0
	VMOVQ         X0, AX
	MOVL          AX, (DX)
	ADDQ          $4, DX

	ADDQ R10, R13
	DECQ R14
	JNZ  iyloop

	ADDQ R8, DI
	DECQ R9
	JNZ  ixloop

	VZEROUPPER
	RET

// func andCountGrid3AVX512(r, p *uint64, nvec int, tail uint64, cs, nx, stride, ngroups int, out *int32)
//
// andCountGridAVX512 for ny = 3*ngroups: three vertically adjacent windows
// at a time, sharing the loads of r.
TEXT ·andCountGrid3AVX512(SB), NOSPLIT, $0-72
	MOVQ  r+0(FP), SI
	MOVQ  p+8(FP), DI
	MOVQ  nvec+16(FP), R11
	KMOVQ tail+24(FP), K1
	MOVQ  cs+32(FP), R8
	MOVQ  nx+40(FP), R9
	MOVQ  stride+48(FP), R10
	MOVQ  out+64(FP), DX

ixloop3:
	MOVQ DI, R13
	MOVQ ngroups+56(FP), R14

gloop3:
	VPXORQ Z0, Z0, Z0
	VPXORQ Z3, Z3, Z3
	VPXORQ Z4, Z4, Z4
	MOVQ   SI, AX
	MOVQ   R13, BX
	LEAQ   (BX)(R10*1), CX
	LEAQ   (CX)(R10*1), R12
	MOVQ   R11, R15
	TESTQ  R15, R15
	JZ     tail3

vloop3:
	VMOVDQU64 (AX), Z1
	VPANDQ    (BX), Z1, Z2
	VPOPCNTQ  Z2, Z2
	VPADDQ    Z2, Z0, Z0
	VPANDQ    (CX), Z1, Z2
	VPOPCNTQ  Z2, Z2
	VPADDQ    Z2, Z3, Z3
	VPANDQ    (R12), Z1, Z2
	VPOPCNTQ  Z2, Z2
	VPADDQ    Z2, Z4, Z4
	ADDQ      $64, AX
	ADDQ      $64, BX
	ADDQ      $64, CX
	ADDQ      $64, R12
	DECQ      R15
	JNZ       vloop3

tail3:
	VMOVDQU64.Z (AX), K1, Z1
	VMOVDQU64.Z (BX), K1, Z2
	VPANDQ      Z2, Z1, Z2
	VPOPCNTQ    Z2, Z2
	VPADDQ      Z2, Z0, Z0
	VMOVDQU64.Z (CX), K1, Z2
	VPANDQ      Z2, Z1, Z2
	VPOPCNTQ    Z2, Z2
	VPADDQ      Z2, Z3, Z3
	VMOVDQU64.Z (R12), K1, Z2
	VPANDQ      Z2, Z1, Z2
	VPOPCNTQ    Z2, Z2
	VPADDQ      Z2, Z4, Z4

	VEXTRACTI64X4 $1, Z0, Y1
	VPADDQ        Y1, Y0, Y0
	VEXTRACTI128  $1, Y0, X1
	VPADDQ        X1, X0, X0
	VPSHUFD       $0x4e, X0, X1
	VPADDQ        X1, X0, X0
	VMOVQ         X0, AX
	MOVL          AX, (DX)

	VEXTRACTI64X4 $1, Z3, Y1
	VPADDQ        Y1, Y3, Y3
	VEXTRACTI128  $1, Y3, X1
	VPADDQ        X1, X3, X3
	VPSHUFD       $0x4e, X3, X1
	VPADDQ        X1, X3, X3
	VMOVQ         X3, AX
	MOVL          AX, 4(DX)

	VEXTRACTI64X4 $1, Z4, Y1
	VPADDQ        Y1, Y4, Y4
	VEXTRACTI128  $1, Y4, X1
	VPADDQ        X1, X4, X4
	VPSHUFD       $0x4e, X4, X1
	VPADDQ        X1, X4, X4
	VMOVQ         X4, AX
	MOVL          AX, 8(DX)
	ADDQ          $12, DX

	LEAQ (R13)(R10*2), R13
	ADDQ R10, R13
	DECQ R14
	JNZ  gloop3

	ADDQ R8, DI
	DECQ R9
	JNZ  ixloop3

	VZEROUPPER
	RET
