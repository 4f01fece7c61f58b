#!/bin/sh
# The main job for now: check the set-up, then one real chat turn with the model.
set -e
"$VENV/bin/smallagent" doctor
echo
"$VENV/bin/smallagent" ask "In two sentences: why can a small language model with retrieval and tools do useful work at a fraction of a large model's energy?"
