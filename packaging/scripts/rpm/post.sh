# %post of the duohuo RPM ($1: 1 install, 2 upgrade).
# The binary must run on this machine (a loong64 package on an old-world
# LoongArch system cannot): say so now rather than at the first start.
if ! out=$(duohuo version 2>&1); then
	echo "duohuo: /usr/bin/duohuo does not run on this machine: $out" >&2
	exit 1
fi
echo "$out" | head -n 1
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || :
fi
if [ "$1" -eq 1 ]; then
	echo "duohuo: edit /etc/duohuo/duohuo.yaml, then: systemctl enable --now duohuo; duohuo check-install"
fi
exit 0
