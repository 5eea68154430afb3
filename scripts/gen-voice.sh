#!/bin/sh
# Generates the kiosk's Mandarin voice prompts from
# kiosk/ui/static/voice/prompts.json (key -> text): espeak-ng speaks each
# text (voice cmn, 160 words per minute) and opusenc compresses it to Ogg
# Opus (12 kbit/s speech, fixed stream serial so a rerun gives the same
# bytes). The .opus files are committed and shipped with the UI: the kiosk
# and the demo need neither tool. Run after changing prompts.json:
#
#   sudo apt-get install espeak-ng opus-tools
#   ./scripts/gen-voice.sh
#
# kiosk/ui's TestVoicePrompts fails when a prompt has no file, a file no
# prompt, or a screen (session phase, problem, hint) no prompt.
set -eu
cd "$(dirname "$0")/../kiosk/ui/static/voice"
for tool in espeak-ng opusenc python3; do
	command -v "$tool" >/dev/null || { echo "gen-voice: $tool is missing (apt-get install espeak-ng opus-tools python3)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -f ./*.opus
python3 -c 'import json,sys; [print(k+"\t"+v) for k,v in json.load(open("prompts.json")).items()]' |
while IFS="$(printf '\t')" read -r key text; do
	espeak-ng -v cmn -s 160 -w "$tmp/$key.wav" "$text"
	opusenc --quiet --speech --bitrate 12 --serial 1 --comp 10 "$tmp/$key.wav" "$key.opus"
done
ls ./*.opus | wc -l | xargs echo "gen-voice: prompts:"
du -ch ./*.opus | tail -1
