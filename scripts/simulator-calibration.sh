#!/bin/sh
# Makes the calibration the simulator's scanner model (VS-SIM-1) ships
# with: matcher/calib/builtin/VS-SIM-1.json, labelled synthetic. It renders
# 1,600 simulated fingers x 4 captures with simulators/fingerimg under the
# simulator's default capture conditions and measures them at the level
# centrald compares at (--enrolled 3: a capture against the best of a
# finger's 3 enrolled samples): every image against the enrolment of every
# other finger, 6,400 x 1,599 = 10.2 million impostor attempts (30.7
# million comparisons), enough to resolve a false match rate of 3e-6 (per
# enrolled finger: centrald's default dedup and identification target) by
# the rule of 30; it also measures and picks the quality gates. Run it
# from the repository root after any change to extraction, comparison or
# the quality measure (the calibration
# names the params hash of the pipeline it was made for; centrald refuses
# captures of another pipeline; TestBuiltinCalibrationCurrent fails when
# it is stale). About 45 minutes on the 2 shared cores under load (320 MB
# of images in WORKDIR).
#
#   scripts/simulator-calibration.sh [WORKDIR]
set -eu
dir=${1:-/tmp/vs-sim-1-calibration}
go test ./simulators/fingerimg -run '^TestDatasetFlag$' -count=1 -timeout 2h \
	-dataset "$dir/images" -fingers 1600 -samples 4 -first-seed 500000
go run ./cmd/veinctl eval --manifest "$dir/images/manifest.csv" --out "$dir/eval" \
	--enrolled 3 --scanner-model VS-SIM-1 --synthetic \
	--description "synthetic: simulators/fingerimg captures under the simulator's default conditions (500 x 200, quality 0.8), 1,600 fingers x 4, seeds 500000-501599; valid for the simulator only" \
	--calibration-out matcher/calib/builtin/VS-SIM-1.json
