package apiv1

import "testing"

// A capture's key in an error's fields goes both ways; anything else is
// refused.
func TestCaptureField(t *testing.T) {
	for _, f := range []Finger{RightIndex, LeftLittle} {
		for _, i := range []int{0, 2, 9, 12} {
			key := CaptureField(f, i)
			g, j, ok := ParseCaptureField(key)
			if !ok || g != f || j != i {
				t.Errorf("%q: %v %v %v", key, g, j, ok)
			}
		}
	}
	if CaptureField(RightMiddle, 1) != "right_middle[1]" {
		t.Errorf("format %q", CaptureField(RightMiddle, 1))
	}
	for _, bad := range []string{"", "right_index", "right_index[", "right_index[]", "right_index[-1]", "right_index[01]",
		"right_index[1]x", "right_index[+1]", "thumb[1]", "[1]", "right_index[1][2]", "right_index[ 1]"} {
		if f, i, ok := ParseCaptureField(bad); ok {
			t.Errorf("%q parsed as %v %d", bad, f, i)
		}
	}
}
