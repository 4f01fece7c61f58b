#!/bin/sh
# The main job: check the set-up, ingest the bundled example docs, and answer a question about
# them with the agent, showing each step and the energy used.
set -e
SA="$VENV/bin/smallagent --index examples --index-dir indexes"  # the checkout's own indexes/
$SA doctor
echo
$SA ingest examples/docs
echo
$SA ask --workdir examples/docs \
  "What is the service code that unlocks the factory calibration menu of the Tidewater station?"
