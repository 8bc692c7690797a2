#!/bin/sh
# Makes a CA and the server certificate examples/mosquitto.conf expects, with openssl:
#   mosquitto-certs.sh DIR SERVER_HOST
# DIR/ca.pem, ca.key          the CA: ca.pem goes to the broker (SPHINX_MQTT_CA) and to each
#                             device (sphinx-signer --ca); keep ca.key offline
# DIR/server.pem, server.key  Mosquitto's, for SERVER_HOST (a DNS name or an IP address, as
#                             the broker and the devices write it in their mqtts:// URL)
# An existing CA is reused.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 DIR SERVER_HOST" >&2; exit 2; }
dir=$1 host=$2
mkdir -p "$dir"
cd "$dir"
umask 077
if [ ! -f ca.pem ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out ca.key
  openssl req -x509 -new -key ca.key -subj "/CN=sphinx-key MQTT CA" -days 3650 -out ca.pem
fi
case $host in
  *[!0-9.]*) san="DNS:$host" ;;
  *) san="IP:$host" ;;
esac
openssl ecparam -name prime256v1 -genkey -noout -out server.key
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" > server.ext
openssl req -new -key server.key -subj "/CN=$host" -out server.csr
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 -extfile server.ext -out server.pem 2>/dev/null
rm -f server.csr server.ext
chmod 644 ca.pem server.pem
