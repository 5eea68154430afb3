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
