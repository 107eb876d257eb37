#!/bin/sh
# Test only: lawline-imagetest.service. One "LAWLINE-IMAGETEST key=value" line per fact.
m() { echo "LAWLINE-IMAGETEST $*"; }
m BEGIN uptime=$(cut -d' ' -f1 /proc/uptime)
m slot=$(sed -n 's/.*rauc\.slot=\([AB]\).*/\1/p' /proc/cmdline) version=$(cat /usr/lib/lawline/version 2>/dev/null)
# wait for the box: active and READY (Type=notify: active only after READY=1)
i=0; while [ $i -lt 300 ]; do
    s=$(systemctl is-active lawline.service); [ "$s" = active ] && break
    [ "$s" = failed ] && break; sleep 1; i=$((i+1)); done
m lawline.service=$(systemctl is-active lawline.service) uptime=$(cut -d' ' -f1 /proc/uptime)
m status=\"$(systemctl show -p StatusText --value lawline.service)\"
m firstboot=$(systemctl is-active lawline-firstboot.service)
m check=$(head -1 /boot/firmware/LAWLINE-CHECK.txt 2>/dev/null | cut -d' ' -f1)
sed 's/^/LAWLINE-IMAGETEST check: /' /boot/firmware/LAWLINE-CHECK.txt 2>/dev/null
m config_on_fat=$([ -e /boot/firmware/lawline.toml ] && echo yes || echo no)
m etc=\"$(stat -c '%n %a %U' /etc/lawline/* 2>/dev/null | tr '\n' ';')\"
m root=$(findmnt -n -o OPTIONS / | cut -d, -f1) data=$(findmnt -n -o SOURCE /data) var_lib_lawline=$(findmnt -n -o SOURCE /var/lib/lawline)
m timezone=$(readlink /etc/localtime | sed 's|.*/zoneinfo/||') ntp=$(systemctl is-enabled systemd-timesyncd.service)
m ssh=$(systemctl is-active ssh.service)
m journal=$(journalctl --header 2>/dev/null | grep -c "File path: /var/log/journal")
m failed=\"$(systemctl list-units --failed --plain --no-legend | cut -d' ' -f1 | tr '\n' ' ')\"
m boots=$(journalctl --list-boots --no-pager 2>/dev/null | grep -cE '^ *-?[0-9]+ ') machine_id=$(cat /etc/machine-id)
m gate=$(systemctl is-active lawline-update-gate.service) commit=$(systemctl is-active lawline-update-commit.service) boot_complete=$(systemctl is-active boot-complete.target)
m pjsua2=$(/opt/lawline/venv/bin/python -c 'import pjsua2,platform; print(platform.machine())' 2>&1 | tail -1)
m READY
