# %pre of the duohuo RPM ($1: 1 install, 2 upgrade). The duohuo system user
# and group exist before the files are unpacked, so that rpm gives them
# /etc/duohuo and /var/lib/duohuo. They are kept on removal.
getent group duohuo >/dev/null 2>&1 || groupadd --system duohuo
if ! getent passwd duohuo >/dev/null 2>&1; then
	nologin=/usr/sbin/nologin
	[ -x "$nologin" ] || nologin=/sbin/nologin
	useradd --system --gid duohuo --home-dir /var/lib/duohuo --no-create-home \
		--shell "$nologin" --comment "duohuo gateway" duohuo
fi
exit 0
