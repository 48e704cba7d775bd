# registry.k8s.io/kube-proxy:<v> for the offline kind node: Debian's iptables/conntrack
# (both iptables backends) + kube-proxy built from the Go module proxy.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      iptables conntrack ipset kmod \
 && rm -rf /var/lib/apt/lists/*
COPY kube-proxy /usr/local/lib/kube-proxy/kube-proxy
COPY kube-proxy-wrapper.sh /usr/local/bin/kube-proxy
ENTRYPOINT ["/usr/local/bin/kube-proxy"]
