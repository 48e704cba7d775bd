#!/bin/sh
# /usr/local/bin/kube-proxy in the offline kube-proxy image: pick the iptables backend
# the node uses (what upstream's iptables-wrapper does: the kubelet's KUBE-IPTABLES-HINT
# chain, else the backend with more rules), then run the real kube-proxy.
set -eu
if iptables-nft-save -t mangle 2>/dev/null | grep -q KUBE-IPTABLES-HINT; then
  mode=nft
elif iptables-legacy-save -t mangle 2>/dev/null | grep -q KUBE-IPTABLES-HINT; then
  mode=legacy
else
  legacy=$( (iptables-legacy-save || true; ip6tables-legacy-save || true) 2>/dev/null | grep -c '^-' || true)
  nft=$( (timeout 5 sh -c 'iptables-nft-save; ip6tables-nft-save' || true) 2>/dev/null | grep -c '^-' || true)
  if [ "$legacy" -gt "$nft" ]; then mode=legacy; else mode=nft; fi
fi
for t in iptables ip6tables; do
  update-alternatives --set "$t" "/usr/sbin/$t-$mode" >/dev/null
done
echo "kube-proxy wrapper: iptables mode $mode" >&2
exec /usr/local/lib/kube-proxy/kube-proxy "$@"
