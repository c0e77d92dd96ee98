#!/usr/bin/env bash
# A private CA and certificates for a secured deployment or test (openssl only):
#   scripts/gen-certs.sh <dir> [server names...]     default names: localhost kafka 127.0.0.1
# writes <dir>/ca.pem (trust this), ca.key (keep offline), server.pem/.key and server.p12
# (the broker's keystore, password $CERT_STORE_PASSWORD or "changeit"), client.pem/.key (mTLS),
# and other-ca.pem (an unrelated CA that must be refused; the tests use it).
# Certificates are valid for $CERT_DAYS days (default 2: throwaway; pass more for a deployment).
set -euo pipefail
dir="${1:?usage: gen-certs.sh <dir> [server names...]}"
shift || true
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(localhost kafka 127.0.0.1)
days="${CERT_DAYS:-2}"
pass="${CERT_STORE_PASSWORD:-changeit}"
mkdir -p "$dir"
cd "$dir"
san=""
for n in "${names[@]}"; do
  if [[ "$n" =~ ^[0-9.]+$ || "$n" == *:* ]]; then san="$san,IP:$n"; else san="$san,DNS:$n"; fi
done
san="${san#,}"
ca() {
  openssl req -x509 -newkey rsa:2048 -nodes -days "$days" -subj "/CN=$1" -keyout "$1.key" -out "$1.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
leaf() { # name ca ext
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$1.key" -out "$1.csr" 2>/dev/null
  printf '%b' "$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days "$days" -out "$1.pem" -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
ca ca
ca other-ca
leaf server ca "subjectAltName=$san\nextendedKeyUsage=serverAuth\n"
leaf client ca "extendedKeyUsage=clientAuth\n"
openssl pkcs12 -export -in server.pem -inkey server.key -certfile ca.pem -name broker -out server.p12 -passout "pass:$pass"
chmod 600 ./*.key server.p12
echo "certificates in $dir (server names: ${names[*]})" >&2
