//go:build !purego

package matcher

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
)

// instructionFeature is the CPU feature each instruction of
// andcount_amd64.s needs ("" for the x86-64 baseline), in the form the
// file uses it (EVEX on Z registers or with masks; VEX on Y and X).
var instructionFeature = map[string]string{
	"KMOVQ": "AVX512BW", "KMOVD": "AVX512BW", "KMOVW": "AVX512F", "KMOVB": "AVX512DQ",
	"VPOPCNTQ": "AVX512VPOPCNTDQ", "VPOPCNTD": "AVX512VPOPCNTDQ",
	"VPANDQ": "AVX512F", "VPXORQ": "AVX512F", "VPXORD": "AVX512F", "VPADDQ": "AVX512F",
	"VEXTRACTI64X4": "AVX512F", "VPMOVQD": "AVX512F", "VMOVDQU32": "AVX512F", "VMOVDQU64": "AVX512F",
	"VPCMPEQD": "AVX512F", "VPBROADCASTQ": "AVX512F", "VPBROADCASTD": "AVX512F", "VPMAXSD": "AVX512F",
	"VEXTRACTI128": "AVX2", "VPSHUFD": "AVX2", "VMOVQ": "AVX2", "VZEROUPPER": "AVX2",
	"TZCNTL": "BMI1",
}

// TestKernelFeatures reads the assembly and checks that every instruction
// it uses has a known feature, and that useAVX512 checks each feature
// (the baseline and BMI1, present on every AVX-512 CPU, excepted). It
// caught the kernels' KMOVQ, which needs AVX512BW, behind a check of
// VPOPCNTDQ alone.
func TestKernelFeatures(t *testing.T) {
	f, err := os.Open("andcount_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var checked []string
	for _, kf := range kernelFeatures {
		checked = append(checked, kf.name)
	}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "//") || strings.HasPrefix(text, "#") || strings.HasPrefix(text, "TEXT") || strings.HasSuffix(text, ":") {
			continue
		}
		op, _, _ := strings.Cut(strings.Fields(text)[0], ".") // VMOVDQU32.Z
		if !strings.HasPrefix(op, "V") && !strings.HasPrefix(op, "K") && op != "TZCNTL" {
			continue // general-purpose baseline instructions
		}
		feat, ok := instructionFeature[op]
		if !ok {
			t.Errorf("line %d: %s: add the CPU feature it needs to instructionFeature", line, op)
			continue
		}
		if feat != "BMI1" && !slices.Contains(checked, feat) {
			t.Errorf("line %d: %s needs %s, which useAVX512 does not check", line, op, feat)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestKernelsUsable checks that a CPU lacking any one feature (AVX512BW:
// the Xeon Phi kind) gets the portable kernels.
func TestKernelsUsable(t *testing.T) {
	all := func(string) bool { return true }
	if !kernelsUsable(all) {
		t.Fatal("every feature present: kernels refused")
	}
	for _, kf := range kernelFeatures {
		lacking := kf.name
		if kernelsUsable(func(f string) bool { return f != lacking }) {
			t.Errorf("CPU without %s: kernels selected", lacking)
		}
	}
	if kernelsUsable(func(f string) bool { return f != "AVX512BW" }) {
		t.Error("CPU without AVX512BW: kernels selected")
	}
}
