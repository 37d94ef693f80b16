# %postun of the duohuo RPM ($1: 0 erase, 1 upgrade): an upgrade restarts a
# running service on the new binary; the user, the configuration changed by
# the administrator (.rpmsave) and /var/lib/duohuo are kept.
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || :
	if [ "$1" -ge 1 ]; then
		systemctl try-restart duohuo.service >/dev/null 2>&1 || :
	fi
fi
exit 0
