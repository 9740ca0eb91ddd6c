#!/bin/sh
# Writes the run-time parameters the FAQ describes, from the container's environment.
set -eu
root=/usr/share/nginx/html
cat > "$root/scripts/tc-params.js" <<JS
window.TC_PARAMS = {"API_BASEROUTE": "${API_BASEROUTE}", "MIXPANEL_ANALYTICS_ID": "${MIXPANEL_ANALYTICS_ID}"};
JS
printf '{"API_BASEROUTE": "%s"}\n' "$API_BASEROUTE" > "$root/embed-params.json"
