#!/bin/sh
# lawline first boot (and every boot after it: cheap when there is nothing new), run by
# lawline-firstboot.service before the box starts. The office prepares the FAT boot partition on
# any PC (it is /boot/firmware here):
#   lawline.toml               the box's config            -> /etc/lawline/lawline.toml
#   lawline/                   secret files it names (trunk password, upstream token, CA...)
#                              -> /etc/lawline/<name>; refer to them as /etc/lawline/<name>
#   ssh_authorized_keys        turns SSH on (key login only) -> /data/ssh/authorized_keys
# Files are moved (copied to the data partition with mode 0600, then deleted from the FAT),
# `lawline check` validates the config, and the result goes to LAWLINE-CHECK.txt on the FAT
# partition and to the Pi's status LED: 3 s steady on = OK, fast blinking = check failed.
set -u
BOOT=/boot/firmware
DATA=/data
ETC=/etc/lawline
LAWLINE=/opt/lawline/venv/bin/lawline
REPORT=$BOOT/LAWLINE-CHECK.txt
say() { echo "lawline-firstboot: $*"; }

# The data partition's layout (also made by the image build; redone here for a card whose
# LAWDATA was made by hand). Ownership is re-asserted: a new image may number the user anew.
# rauc/ and update/ are the updater's (RAUC's slot status; downloads and the record).
layout() {
    mkdir -p "$DATA/lawline" "$DATA/etc-lawline" "$DATA/journal" "$DATA/ssh" "$DATA/rauc" "$DATA/update"
    chown lawline:lawline "$DATA/lawline" "$DATA/etc-lawline"
    chmod 0700 "$DATA/lawline" "$DATA/etc-lawline" "$DATA/ssh"
    chown -R lawline:lawline "$DATA/etc-lawline"
    chown root:systemd-journal "$DATA/journal"; chmod 2755 "$DATA/journal"
}

# Grow LAWDATA (the last partition) over the rest of the SD card, once.
grow_data() {
    [ -e "$DATA/.grown" ] && return 0
    dev=$(findmnt -n -o SOURCE "$DATA") || return 0
    disk=/dev/$(lsblk -n -o PKNAME "$dev" 2>/dev/null | head -1)
    part=$(cat "/sys/class/block/$(basename "$dev")/partition" 2>/dev/null) || return 0
    [ -b "$disk" ] || return 0
    if echo ", +" | sfdisk --no-reread --no-tell-kernel -q -N "$part" "$disk" >/dev/null 2>&1; then
        partx -u -n "$part" "$disk" 2>/dev/null || true
        resize2fs "$dev" >/dev/null 2>&1 || true
    fi
    touch "$DATA/.grown"
    say "data partition: $(df -h --output=size "$DATA" | tail -1 | tr -d ' ')"
}

led() {   # led ok|fail
    for l in /sys/class/leds/ACT /sys/class/leds/led0; do
        [ -d "$l" ] || continue
        if [ "$1" = ok ]; then
            echo default-on > "$l/trigger"; sleep 3; echo mmc0 > "$l/trigger" 2>/dev/null || echo none > "$l/trigger"
        else
            echo timer > "$l/trigger"; echo 100 > "$l/delay_on"; echo 100 > "$l/delay_off"
        fi
        return 0
    done
    say "no status LED found (/sys/class/leds/ACT): result in $REPORT only"
}

move_in() {   # move_in SRC DEST: copy with mode 0600 owned by the box, then delete SRC
    install -o lawline -g lawline -m 0600 "$1" "$2.new" && mv -f "$2.new" "$2" && rm -f "$1"
}

# The root is read-only, so /etc/machine-id is made anew at every boot, and the persistent
# journal (one folder per machine id) would start a new folder each time. Pin this boot's id
# in U-Boot's environment on the FAT partition (uboot.env; image/boot.cmd puts it on the
# kernel command line), once: both root slots start with it, so an update keeps the journal.
pin_machine_id() {
    grep -q 'systemd.machine_id=' /proc/cmdline && return 0
    [ -f "$BOOT/uboot.env" ] && command -v fw_setenv >/dev/null || return 0
    id=$(cat /etc/machine-id 2>/dev/null)
    echo "$id" | grep -Eq '^[0-9a-f]{32}$' || return 0
    fw_setenv lawline_machine_id "$id" && say "machine id $id pinned in U-Boot's environment"
}

layout
grow_data
pin_machine_id
new=0
if [ -f "$BOOT/lawline.toml" ]; then
    move_in "$BOOT/lawline.toml" "$ETC/lawline.toml" && new=1 && say "config applied: $ETC/lawline.toml"
fi
if [ -d "$BOOT/lawline" ]; then
    for f in "$BOOT"/lawline/*; do
        [ -f "$f" ] || continue
        move_in "$f" "$ETC/$(basename "$f")" && new=1 && say "secret file applied: $ETC/$(basename "$f")"
    done
    rmdir "$BOOT/lawline" 2>/dev/null || true
fi
if [ -f "$BOOT/ssh_authorized_keys" ]; then
    install -o root -g root -m 0600 "$BOOT/ssh_authorized_keys" "$DATA/ssh/authorized_keys" \
        && rm -f "$BOOT/ssh_authorized_keys" && say "ssh: key installed, ssh on"
fi
if [ -f "$DATA/ssh/authorized_keys" ] && [ ! -f "$DATA/ssh/ssh_host_ed25519_key" ]; then
    ssh-keygen -q -t ed25519 -N "" -f "$DATA/ssh/ssh_host_ed25519_key" && say "ssh: host key made"
fi
sync

if [ "$new" = 1 ] || [ ! -f "$REPORT" ]; then
    if [ ! -f "$ETC/lawline.toml" ]; then
        printf 'FAIL %s\nno lawline.toml: put it on this partition (next to config.txt) and restart the box.\n' \
            "$(date '+%F %T %Z')" > "$REPORT"
        say "no config yet"; led fail; exit 0
    fi
    out=$(runuser -u lawline -- "$LAWLINE" check --config "$ETC/lawline.toml" 2>&1); rc=$?
    if [ $rc -eq 0 ]; then verdict=OK; else verdict=FAIL; fi
    { echo "$verdict $(date '+%F %T %Z') lawline check exit $rc"; echo "$out"; } > "$REPORT.new"
    mv -f "$REPORT.new" "$REPORT"; sync
    cp "$REPORT" "$DATA/etc-lawline/.last-check" 2>/dev/null || true
    say "lawline check: $verdict (exit $rc), written to $REPORT"
    printf '%s\n' "$out" | sed 's/^/lawline-firstboot: check: /'
    if [ $rc -eq 0 ]; then led ok; else led fail; fi
fi
exit 0
