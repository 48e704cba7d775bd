#!/bin/sh
# Runs once per node boot, before containerd and the kubelet (kind-offline-guard.service).
# Traffic to a ClusterIP that kube-proxy has not DNATed yet (pods start before its rules
# exist) would otherwise follow the node's default route out of the cluster, onto the
# host's network. Reject it at the node instead. Rules see packets after kube-proxy's nat
# rules, so DNATed Service traffic (to pod or node IPs) is unaffected.
set -eu
cidr=${SERVICE_CIDR_GUARD:-10.96.0.0/12}
for chain in FORWARD OUTPUT; do
  iptables -C "$chain" -d "$cidr" -j REJECT 2>/dev/null \
    || iptables -I "$chain" 1 -d "$cidr" -m comment --comment "kind-offline: un-DNATed ClusterIP traffic stays in the node" -j REJECT
done
