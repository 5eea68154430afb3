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

// func andCountLanesAVX512(r *uint64, n int, p *uint64, rowBytes, nvec int, out *int32)
//
// For v < nvec, j < 8: out[v*8+j] = sum over k < n of the popcount of
// r[k] AND p[k*rowBytes/8 + v*8 + j]: one displacement per lane, so no
// horizontal sums. Four vectors of lanes at a time share the broadcast of
// r[k]. n > 0.
TEXT ·andCountLanesAVX512(SB), NOSPLIT, $0-48
	MOVQ r+0(FP), SI
	MOVQ n+8(FP), R8
	MOVQ p+16(FP), DI
	MOVQ rowBytes+24(FP), R9
	MOVQ nvec+32(FP), R10
	MOVQ out+40(FP), DX

quad:
	CMPQ R10, $4
	JLT  single
	VPXORQ Z0, Z0, Z0
	VPXORQ Z1, Z1, Z1
	VPXORQ Z2, Z2, Z2
	VPXORQ Z3, Z3, Z3
	MOVQ   SI, AX
	MOVQ   DI, BX
	MOVQ   R8, CX

qloop:
	VPBROADCASTQ (AX), Z4
	VPANDQ       (BX), Z4, Z5
	VPANDQ       64(BX), Z4, Z6
	VPANDQ       128(BX), Z4, Z7
	VPANDQ       192(BX), Z4, Z8
	VPOPCNTQ     Z5, Z5
	VPOPCNTQ     Z6, Z6
	VPOPCNTQ     Z7, Z7
	VPOPCNTQ     Z8, Z8
	VPADDQ       Z5, Z0, Z0
	VPADDQ       Z6, Z1, Z1
	VPADDQ       Z7, Z2, Z2
	VPADDQ       Z8, Z3, Z3
	ADDQ         $8, AX
	ADDQ         R9, BX
	DECQ         CX
	JNZ          qloop

	VPMOVQD Z0, (DX)
	VPMOVQD Z1, 32(DX)
	VPMOVQD Z2, 64(DX)
	VPMOVQD Z3, 96(DX)
	ADDQ    $128, DX
	ADDQ    $256, DI
	SUBQ    $4, R10
	JMP     quad

single:
	TESTQ R10, R10
	JZ    done
	VPXORQ Z0, Z0, Z0
	MOVQ   SI, AX
	MOVQ   DI, BX
	MOVQ   R8, CX

sloop:
	VPBROADCASTQ (AX), Z4
	VPANDQ       (BX), Z4, Z5
	VPOPCNTQ     Z5, Z5
	VPADDQ       Z5, Z0, Z0
	ADDQ         $8, AX
	ADDQ         R9, BX
	DECQ         CX
	JNZ          sloop

	VPMOVQD Z0, (DX)
	ADDQ    $32, DX
	ADDQ    $64, DI
	DECQ    R10
	JMP     single

done:
	VZEROUPPER
	RET

// func maxFirstAVX512(v *int32, nvec int, tail uint64) int
//
// The index of the first largest of the values at v: nvec full vectors of
// 16 then the values selected by the mask tail. The values are >= 0.
TEXT ·maxFirstAVX512(SB), NOSPLIT, $0-32
	MOVQ  v+0(FP), SI
	MOVQ  nvec+8(FP), CX
	KMOVQ tail+16(FP), K1
	VPXORD Z0, Z0, Z0
	MOVQ   SI, AX
	MOVQ   CX, BX
	TESTQ  BX, BX
	JZ     mtail

mloop:
	VPMAXSD (AX), Z0, Z0
	ADDQ    $64, AX
	DECQ    BX
	JNZ     mloop

mtail:
	VMOVDQU32.Z   (AX), K1, Z1
	VPMAXSD       Z1, Z0, Z0
	VEXTRACTI64X4 $1, Z0, Y1
	VPMAXSD       Y1, Y0, Y0
	VEXTRACTI128  $1, Y0, X1
	VPMAXSD       X1, X0, X0
	VPSHUFD       $0x4e, X0, X1
	VPMAXSD       X1, X0, X0
	VPSHUFD       $0xb1, X0, X1
	VPMAXSD       X1, X0, X0
	VPBROADCASTD  X0, Z0

	MOVQ  SI, AX
	XORQ  DX, DX
	TESTQ CX, CX
	JZ    ftail

floop:
	VPCMPEQD (AX), Z0, K2
	KMOVW    K2, BX
	TESTL    BX, BX
	JNZ      found
	ADDQ     $64, AX
	ADDQ     $16, DX
	DECQ     CX
	JNZ      floop

ftail:
	VPCMPEQD (AX), Z0, K1, K2
	KMOVW    K2, BX

found:
	TZCNTL BX, BX
	ADDQ   BX, DX
	MOVQ   DX, ret+24(FP)
	VZEROUPPER
	RET

// func prefetchBytes(p *uint64, n int)
//
// Prefetches the cache lines of the n bytes at p (n > 0) into all cache
// levels.
TEXT ·prefetchBytes(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), CX
	ADDQ AX, CX
	ANDQ $-64, AX // from the start of the first line

ploop:
	PREFETCHT0 (AX)
	ADDQ       $64, AX
	CMPQ       AX, CX
	JLT        ploop
	RET
