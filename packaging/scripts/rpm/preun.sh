# %preun of the duohuo RPM ($1: 0 erase, 1 upgrade): stop and disable the
# service when the package goes away, not when it is upgraded.
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
	systemctl --no-reload disable --now duohuo.service >/dev/null 2>&1 || :
fi
exit 0
