#!/bin/sh
# Writes the run-time parameters the FAQ describes, from the container's environment, and
# the web app's security headers (the policy of toucan.security_headers.web_app_csp).
set -eu
root=${TOUCAN_DOCROOT:-/usr/share/nginx/html}
headers=${TOUCAN_NGINX_HEADERS:-/etc/nginx/toucan-headers.conf}
cat > "$root/scripts/tc-params.js" <<JS
window.TC_PARAMS = {"API_BASEROUTE": "${API_BASEROUTE}", "MIXPANEL_ANALYTICS_ID": "${MIXPANEL_ANALYTICS_ID}"};
JS
printf '{"API_BASEROUTE": "%s"}\n' "$API_BASEROUTE" > "$root/embed-params.json"

# Who may frame the app: 'self' (default), 'none', or origins (space-separated).
frame_ancestors=$(printf '%s' "${FRAME_ANCESTORS:-}" | tr -s ' ')
[ -n "$frame_ancestors" ] || frame_ancestors="'self'"
case "$frame_ancestors" in
  *[\;\",\\]*|*"
"*) echo "FRAME_ANCESTORS must be CSP sources separated by spaces, e.g. 'self' https://intranet.example.com" >&2
     exit 1 ;;
esac
# The API's origin when it is another than the app's (API_BASEROUTE=https://api.example.com/...).
api_origin=$(printf '%s' "$API_BASEROUTE" | sed -n 's#^\(https\{0,1\}://[^/]*\).*$#\1#p')
connect="'self'${api_origin:+ $api_origin}"
csp="default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; style-src-elem 'self'; style-src-attr 'unsafe-inline'; img-src 'self'; font-src 'self'; connect-src $connect; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors $frame_ancestors"
{
  echo "add_header Content-Security-Policy \"$csp\" always;"
  echo 'add_header X-Content-Type-Options "nosniff" always;'
  echo 'add_header Referrer-Policy "no-referrer" always;'
  case "$frame_ancestors" in
    "'self'") echo 'add_header X-Frame-Options "SAMEORIGIN" always;' ;;
    "'none'") echo 'add_header X-Frame-Options "DENY" always;' ;;
  esac
} > "$headers"
