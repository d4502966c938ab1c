#!/usr/bin/env bash
# Installs the real servers and clients the integration tests talk to, when they are missing.
set -euo pipefail
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
# mosquitto_passwd (the auth-file tests read what it writes) comes with the broker package.
command -v mosquitto_passwd >/dev/null 2>&1 || need+=(mosquitto)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# promtool and the prometheus server (the observability tests lint and scrape the exposition) come in one package.
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# The dashboard tests drive Debian's chromium through playwright-core (its bundled browser download is not used).
[ -x /usr/bin/chromium ] || need+=(chromium)
# The MQTT-SN gateway is cross-checked against scapy's MQTT-SN layer, with Debian's own python.
/usr/bin/python3 -c 'import scapy.contrib.mqttsn' >/dev/null 2>&1 || need+=(python3-scapy)
# ... and its encoder against Wireshark's MQTT-SN dissector.
command -v tshark >/dev/null 2>&1 || need+=(tshark)
# The LwM2M gateway is spoken to in raw CoAP by libcoap's coap-client (Debian ships it as coap-client-notls and TLS variants).
command -v coap-client-notls >/dev/null 2>&1 || need+=(libcoap3-bin)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "test-deps: installing ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
