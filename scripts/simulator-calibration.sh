#!/bin/sh
# Makes the calibration the simulator's scanner model (VS-SIM-1) ships
# with: matcher/calib/builtin/VS-SIM-1.json, labelled synthetic. It renders
# 1,320 simulated fingers x 6 captures with simulators/fingerimg under the
# simulator's default capture conditions, and compares every two images of
# different fingers (31 million impostor comparisons), enough to resolve a
# false match rate of 1e-6 by the rule of 30. Run it from the repository
# root after any change to extraction or comparison (the calibration names
# the params hash of the pipeline it was made for; centrald refuses
# captures of another pipeline). It took 30 minutes on the 2 shared cores
# (rendering 7,920 images is most of it; 400 MB of images in WORKDIR).
# --enrolled 0: the enrolment protocol is not part of the calibration and
# would double the comparisons.
#
#   scripts/simulator-calibration.sh [WORKDIR]
set -eu
dir=${1:-/tmp/vs-sim-1-calibration}
go test ./simulators/fingerimg -run '^TestDatasetFlag$' -count=1 -timeout 1h \
	-dataset "$dir/images" -fingers 1320 -samples 6 -first-seed 500000
go run ./cmd/veinctl eval --manifest "$dir/images/manifest.csv" --out "$dir/eval" \
	--impostors all --enrolled 0 --scanner-model VS-SIM-1 --synthetic \
	--description "synthetic: simulators/fingerimg captures under the simulator's default conditions (500 x 200, quality 0.8), 1,320 fingers x 6, seeds 500000-501319; valid for the simulator only" \
	--calibration-out matcher/calib/builtin/VS-SIM-1.json
