#!/bin/sh
# `nginx -t` on deploy/nginx/ as it would be installed, in a scratch prefix with a throwaway self-signed
# certificate in place of the real one. Needs Debian's nginx and libnginx-mod-http-brotli-filter.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/snippets" "$work/logs" "$work/ssl"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=yishi.example.org \
    -keyout "$work/ssl/privkey.pem" -out "$work/ssl/fullchain.pem" 2>/dev/null
for f in yishi-locations.conf yishi-proxy.conf; do
    sed "s|/etc/nginx/snippets/|$work/snippets/|g" "$here/nginx/$f" > "$work/snippets/$f"
done
sed -e "s|/etc/nginx/snippets/|$work/snippets/|g" -e "s|/etc/ssl/yishi/|$work/ssl/|g" \
    -e "s|/var/log/nginx/|$work/logs/|g" "$here/nginx/yishi.conf" > "$work/yishi.conf"
cat > "$work/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_http_brotli_filter_module.so;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events {}
http {
    include /etc/nginx/mime.types;
    access_log $work/logs/access.log;
    include $work/yishi.conf;
}
CONF
nginx -t -p "$work" -c "$work/nginx.conf"
