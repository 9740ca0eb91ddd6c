#!/bin/sh
# The frontend image's command: write the run-time parameters and security headers
# (frontend-entrypoint.sh), nginx's site on LISTEN_PORT, then run nginx in the foreground.
set -eu
sh /usr/local/lib/toucan/frontend-entrypoint.sh
case "${LISTEN_PORT:-80}" in
  ''|*[!0-9]*) echo "LISTEN_PORT must be a port number, not '${LISTEN_PORT}'" >&2; exit 1 ;;
esac
sed "s/listen 80;/listen ${LISTEN_PORT:-80};/" /etc/nginx/templates/default.conf.template \
  > /etc/nginx/conf.d/default.conf
exec nginx -g 'daemon off;'
