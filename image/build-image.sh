#!/usr/bin/env bash
# Builds the lawline SD-card image for a Raspberry Pi 4/5 (arm64): Debian bookworm with
# raspi-firmware and linux-image-arm64, the box in a venv at /opt/lawline/venv, the arm64 pjsua2
# wheel (image/pjsua2-arm64.sh), prompts rendered on the host, systemd units, udev rules, a
# read-only root, a data partition (LABEL=LAWDATA) and first boot from the FAT partition.
#
#   image/build-image.sh [base|rootfs|img|xz|all]     (default all; `make image`)
#
#   base    mmdebstrap arm64 rootfs with kernel, initramfs, Pi firmware (cached: build/image/base)
#   rootfs  copy of base + lawline venv, wheel, prompts, units, config (build/image/rootfs)
#   img     build/image/root.ext4 (root slot A, and what `make bundle` ships) and
#           build/image/lawline-arm64.img, 4 GiB, MBR (README "The SD-card image"):
#             p1 FAT   RASPIFIRM  /boot/firmware: Pi firmware, config.txt (+ board/$BOARD lines),
#                                 U-Boot, boot.scr, uboot.env; the office's config drop
#             p2 ext4  root A     /, read-only (this build)
#             p3       root B     empty until the first update
#             p4 ext4  LAWDATA    /data: the box's state, /etc/lawline, the journal, ssh keys,
#                                 RAUC's status, update downloads; grown over the card at first
#                                 boot; never written by an update
#           No loop devices: mkfs.vfat -C + mcopy, mke2fs -d, sfdisk, dd.
#   xz      build/image/lawline-arm64.img.xz
#
# BOARD=waveshare-sim7600x (default) | quectel-ec25-hat | usb-v253: whose board/*/config.txt
# lines go into the FAT config.txt (and RAUC's compatible, so a bundle for one HAT is refused
# by a box with another). VERSION= overrides the version (default: pyproject version +
# build time + commit). RAUC_KEY/RAUC_CERT/RAUC_KEYRING: the vendor's keys (image/lib.sh).
#
# Why Debian and not Raspberry Pi OS: archive.raspberrypi.com is not reachable from the build
# machines (only Debian's mirrors are), and Debian's raspi-firmware + linux-image-arm64 boot a
# Pi 4 and a Pi 3 (Pi 5: needs Raspberry Pi's kernel; not covered by Debian 12's 6.1).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib.sh"

BUILD=${BUILD:-$repo/build}
OUT=$BUILD/image
BASE=$OUT/base
ROOTFS=$OUT/rootfs
IMG=$OUT/lawline-arm64.img
WHEELS=$BUILD/wheels
# Sizes in MiB. The whole image is 4 GiB (a power of two, as qemu's raspi machines need).
FAT_START=4 FAT_SIZE=252 SLOT_SIZE=1536 DATA_SIZE=768
BOARD=${BOARD:-waveshare-sim7600x}
COMPATIBLE=lawline-rpi-arm64-$BOARD
# The MBR's disk identifier: partitions are PARTUUID=1a7e0148-0N (RAUC's slots, U-Boot's root=)
DISK_ID=1a7e0148
BASE_PACKAGES=systemd-sysv,systemd-timesyncd,systemd-resolved,udev,kmod,dbus,e2fsprogs,dosfstools,fdisk,iproute2,netbase,ca-certificates,tzdata,linux-image-arm64,raspi-firmware,initramfs-tools,zstd,python3,python3-venv,libpython3.11,libportaudio2,libasound2,libssl3,openssh-server,alsa-utils,openssl,rauc,rauc-service,libubootenv-tool,u-boot-rpi
# Installed on top of the cached base (added after the base; folded into BASE_PACKAGES later).
ROOTFS_PACKAGES=""
stage=${1:-all}
need_root

base() {
    local stamp="$BASE/.lawline-base"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$BASE_PACKAGES" ]; then
        log "base rootfs cached: $BASE"; return 0
    fi
    host_tools mmdebstrap arch-test
    arm64_binfmt
    rm -rf "$BASE" "$BASE.tmp"; mkdir -p "$OUT"
    log "mmdebstrap arm64 $SUITE base rootfs (kernel, initramfs, raspi-firmware) -> $BASE"
    local t0=$SECONDS
    # fstab and FSTYPE=ext4 go in before the kernel, so the initramfs gets fsck.ext4 for the
    # root (its hook cannot resolve LABEL= inside a chroot).
    # initramfs: update_initramfs=no while packages go in, so the trigger does not build the
    # initrd a second time under qemu-user; it is built once below (and copied to the FAT by
    # raspi-firmware's post-update hook).
    mmdebstrap --arch=arm64 --variant=minbase --components=main,non-free-firmware \
        --include="$BASE_PACKAGES" \
        --essential-hook='mkdir -p "$1/etc/initramfs-tools"; echo "update_initramfs=no" > "$1/etc/initramfs-tools/update-initramfs.conf"' \
        --essential-hook="install -m 0644 '$here/rootfs/fstab' \"\$1/etc/fstab\"" \
        --essential-hook='mkdir -p "$1/etc/initramfs-tools/conf.d"; echo FSTYPE=ext4 > "$1/etc/initramfs-tools/conf.d/lawline-fstype.conf"' \
        --dpkgopt=force-confdef --dpkgopt=force-confold \
        --customize-hook='
            set -e
            root=$1
            ver=$(ls "$root/lib/modules" | sort -V | tail -1)
            conf=$root/etc/initramfs-tools/update-initramfs.conf
            if [ -f "$conf.dpkg-dist" ]; then mv "$conf.dpkg-dist" "$conf"; else sed -i "s/^update_initramfs=.*/update_initramfs=yes/" "$conf"; fi
            printf "%s\n" "ROOTPART=LABEL=RASPIROOT" "CONSOLES=\"tty0 ttyS1,115200\"" "CMA=0" >> "$root/etc/default/raspi-firmware"
            if [ ! -f "$root/boot/initrd.img-$ver" ]; then chroot "$root" update-initramfs -c -k "$ver"; fi
            chroot "$root" env DEB_MAINT_PARAMS=configure /etc/kernel/postinst.d/z50-raspi-firmware "$ver"
            ls "$root/boot/firmware" > "$root/.lawline-firmware-files"' \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-include=/usr/share/locale/locale.alias' \
        "$SUITE" "$BASE.tmp" - < <(mmdebstrap_sources)
    echo "$BASE_PACKAGES" > "$BASE.tmp/.lawline-base"
    mv "$BASE.tmp" "$BASE"
    log "base rootfs made in $((SECONDS - t0)) s ($(du -sh "$BASE" | cut -f1))"
}

wheel_of() { ls "$1" 2>/dev/null | head -1; }

rootfs() {
    [ -d "$BASE" ] || base
    local pjwhl; pjwhl=$(wheel_of "$WHEELS"/pjsua2-*-linux_aarch64.whl)
    [ -n "$pjwhl" ] || die "no arm64 pjsua2 wheel in $WHEELS: run image/pjsua2-arm64.sh (make pjsua2-arm64)"
    ls "$repo"/prompts/zh-CN/generated/*.wav >/dev/null 2>&1 \
        || die "prompts not rendered: run make prompts first (make image does)"
    arm64_binfmt
    local t0=$SECONDS
    log "rootfs: copy of base -> $ROOTFS"
    rm -rf "$ROOTFS"; cp -a "$BASE" "$ROOTFS"
    local R=$ROOTFS

    # The box package only (the `lawline` distribution of pyproject.toml; never rig/).
    log "rootfs: lawline wheel (host build, pure Python)"
    [ -f "$repo/board/$BOARD/config.txt" ] || die "no board/$BOARD/config.txt (BOARD=$BOARD)"
    rm -rf "$OUT/dist"; mkdir -p "$OUT/dist"
    # from a clean copy of the working tree: setuptools' in-tree build/lib would keep modules
    # that were deleted since the last build
    local src=$OUT/src
    rm -rf "$src"; mkdir -p "$src"
    cp -a "$repo/pyproject.toml" "$repo/README.md" "$src/"
    (cd "$repo" && tar --exclude=__pycache__ --exclude='*.egg-info' -cf - firmware) | tar -xf - -C "$src"
    python3 -m pip wheel -q --no-deps -w "$OUT/dist" "$src" >&2
    rm -rf "$src"
    local lwhl; lwhl=$(wheel_of "$OUT"/dist/lawline-*.whl)
    [ -n "$lwhl" ] || die "no lawline wheel built"
    mkdir -p "$R/tmp/wheels"; cp "$lwhl" "$pjwhl" "$R/tmp/wheels/"

    log "rootfs: venv /opt/lawline/venv (pip in the arm64 chroot, host CA bundle for this step only)"
    chroot_ca_copy "$R"; cp /etc/resolv.conf "$R/tmp/resolv.conf"
    rm -f "$R/etc/resolv.conf.lawline"; mv "$R/etc/resolv.conf" "$R/etc/resolv.conf.lawline" 2>/dev/null || true
    cp "$R/tmp/resolv.conf" "$R/etc/resolv.conf"
    if [ -n "$ROOTFS_PACKAGES" ]; then
        in_chroot "$R" DEBIAN_FRONTEND=noninteractive -- sh -ec "apt-get update -q >/dev/null; apt-get install -y -q --no-install-recommends $ROOTFS_PACKAGES >/dev/null; apt-get clean"
    fi
    in_chroot "$R" PIP_CERT=/tmp/host-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 -- sh -ec '
        python3 -m venv /opt/lawline/venv
        /opt/lawline/venv/bin/pip install -q /tmp/wheels/'"$(basename "$pjwhl")"' /tmp/wheels/'"$(basename "$lwhl")"' \
            lgpio rpi-lgpio
        /opt/lawline/venv/bin/pip list --format=freeze > /opt/lawline/packages.txt
        cd / && /opt/lawline/venv/bin/python -c "import pjsua2, lawline.app, gpiozero, lgpio, sounddevice; import importlib.util as u; assert u.find_spec(\"RPi.GPIO\")"'
    rm -f "$R/etc/resolv.conf"; mv "$R/etc/resolv.conf.lawline" "$R/etc/resolv.conf" 2>/dev/null || true
    chroot_ca_remove "$R"; rm -rf "$R/tmp/wheels" "$R/tmp/resolv.conf" "$R/root/.cache"
    find "$R/opt/lawline/venv" -name __pycache__ -prune -exec rm -rf {} + 2>/dev/null || true
    in_chroot "$R" -- /opt/lawline/venv/bin/python -m compileall -q /opt/lawline/venv/lib >/dev/null || true

    # Prompts: rendered on the host (espeak-ng + sox, same Debian versions) and copied: the root
    # is read-only, so they cannot be rendered on the box, and the image carries no TTS.
    # The package looks for its bundled prompts at <site-packages>/../prompts.
    mkdir -p "$R/opt/lawline/prompts"
    cp -a "$repo/prompts/zh-CN" "$R/opt/lawline/prompts/"
    ln -sfn /opt/lawline/prompts "$R/opt/lawline/venv/lib/python3.11/prompts"

    log "rootfs: units, udev rules, read-only root, data partition, first boot"
    install -d "$R/usr/lib/lawline"
    install -m 0755 "$here/firstboot.sh" "$R/usr/lib/lawline/firstboot.sh"
    install -m 0755 "$here/rootfs/imagetest.sh" "$R/usr/lib/lawline/imagetest.sh"
    [ -f "$repo/systemd/lawline.sysusers" ] && install -m 0644 "$repo/systemd/lawline.sysusers" "$R/usr/lib/sysusers.d/lawline.conf"
    in_chroot "$R" -- systemd-sysusers
    local u enable=()
    for u in "$repo"/systemd/*.service "$repo"/systemd/*.timer \
             "$here/rootfs/lawline-imagetest.service"; do
        install -m 0644 "$u" "$R/etc/systemd/system/$(basename "$u")"
        grep -q '^\[Install\]' "$u" && enable+=("$(basename "$u")")
    done
    for u in "$repo"/board/*.rules "$here/rootfs/99-lawline-imagetest.rules" \
             "$here/rootfs/99-lawline-update-usb.rules"; do
        [ -f "$u" ] && install -m 0644 "$u" "$R/etc/udev/rules.d/$(basename "$u")"
    done
    install -m 0644 "$here/rootfs/fstab" "$R/etc/fstab"
    install -d "$R/etc/systemd/journald.conf.d" "$R/etc/systemd/system/ssh.service.d" \
        "$R/etc/systemd/system/systemd-networkd-wait-online.service.d" "$R/etc/systemd/network"
    install -m 0644 "$here/rootfs/journald.conf" "$R/etc/systemd/journald.conf.d/lawline.conf"
    install -m 0644 "$here/rootfs/sshd.conf" "$R/etc/ssh/sshd_config.d/lawline.conf"
    install -m 0644 "$here/rootfs/ssh-lawline.conf" "$R/etc/systemd/system/ssh.service.d/lawline.conf"
    install -m 0644 "$here/rootfs/wait-online.conf" "$R/etc/systemd/system/systemd-networkd-wait-online.service.d/lawline.conf"
    install -m 0644 "$here/rootfs/wired.network" "$R/etc/systemd/network/10-wired.network"
    rm -f "$R"/etc/ssh/ssh_host_*          # never one host key shared by every box
    echo lawline > "$R/etc/hostname"
    printf '127.0.0.1\tlocalhost\n127.0.1.1\tlawline\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$R/etc/hosts"
    ln -sfn /usr/share/zoneinfo/Asia/Shanghai "$R/etc/localtime"; echo Asia/Shanghai > "$R/etc/timezone"
    ln -sfn ../run/systemd/resolve/stub-resolv.conf "$R/etc/resolv.conf"
    : > "$R/etc/machine-id"; rm -f "$R/var/lib/dbus/machine-id"
    install -d -m 0755 "$R/data" "$R/var/lib/lawline" "$R/etc/lawline" "$R/var/log/journal"
    in_chroot "$R" -- systemctl enable "${enable[@]}" systemd-networkd.service systemd-resolved.service \
        systemd-timesyncd.service >/dev/null
    in_chroot "$R" -- systemctl disable ssh.socket >/dev/null 2>&1 || true
    in_chroot "$R" -- systemctl enable ssh.service >/dev/null
    # no login password anywhere: root is locked (console and SSH key only)
    in_chroot "$R" -- passwd -l root >/dev/null
    updates "$R"
    rm -rf "$R"/var/cache/apt/*.bin "$R"/var/lib/apt/lists/* "$R"/var/log/* "$R"/tmp/* 2>/dev/null || true
    install -d -m 0755 "$R/var/log/journal"
    log "rootfs done in $((SECONDS - t0)) s ($(du -sh "$R" | cut -f1))"
}

image_version() {
    local base sha
    base=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/pyproject.toml" | head -1)
    sha=$(git -C "$repo" rev-parse --short=8 HEAD 2>/dev/null || echo nogit)
    git -C "$repo" diff --quiet HEAD -- 2>/dev/null || sha="$sha.dirty"
    echo "${VERSION:-$base+$(date -u +%Y%m%d.%H%M).g$sha}"
}

# Field updates (README "Field updates"): RAUC and its keyring, U-Boot's environment file,
# and the FAT partition's files, which each slot carries in /usr/lib/lawline/boot-firmware.
updates() {
    local R=$1 version fw=$1/usr/lib/lawline/boot-firmware ver f
    version=$(image_version)
    echo "$version" > "$R/usr/lib/lawline/version"
    log "rootfs: version $version, board $BOARD, RAUC compatible $COMPATIBLE"
    install -d "$R/etc/rauc" "$R/etc/systemd/system/rauc.service.d" "$R/etc/systemd/system.conf.d"
    sed -e "s/@COMPATIBLE@/$COMPATIBLE/" -e "s/@DISK_ID@/$DISK_ID/g" "$here/rootfs/rauc-system.conf" \
        > "$R/etc/rauc/system.conf"
    rauc_keys "$BUILD/rauc-keys"
    [ -f "$KEYRING" ] || die "RAUC_KEYRING must be a PEM file (the CA the box trusts): $KEYRING"
    install -m 0644 "$KEYRING" "$R/etc/rauc/keyring.pem"
    install -m 0644 "$here/rootfs/fw_env.config" "$R/etc/fw_env.config"
    install -m 0644 "$here/rootfs/rauc-lawline.conf" "$R/etc/systemd/system/rauc.service.d/lawline.conf"
    install -m 0644 "$here/rootfs/watchdog.conf" "$R/etc/systemd/system.conf.d/lawline-watchdog.conf"
    ln -sfn /opt/lawline/venv/bin/lawline "$R/usr/local/bin/lawline"    # `lawline update` on the box
    # The FAT partition's files: Pi firmware and device trees as raspi-firmware's kernel hook
    # laid them out, but not its kernel, initrd, config.txt and cmdline.txt: U-Boot loads the
    # slot's own kernel and initrd from its /boot and sets the command line (boot.cmd).
    host_tools u-boot-tools
    rm -rf "$fw"; install -d "$fw"
    for f in "$R"/boot/firmware/*; do
        case ${f##*/} in vmlinuz*|initrd*|config.txt|cmdline.txt) ;; *) cp -a "$f" "$fw/" ;; esac
    done
    [ -n "$(ls "$fw"/*.dtb 2>/dev/null)" ] || die "no device trees from raspi-firmware in $R/boot/firmware"
    install -m 0644 "$R/usr/lib/u-boot/rpi_arm64/u-boot.bin" "$fw/u-boot.bin"
    mkimage -A arm64 -T script -C none -n "lawline bootchooser" -d "$here/boot.cmd" "$fw/boot.scr" >/dev/null
    { printf '%s\n' "# lawline $version, board/$BOARD (image/build-image.sh): the Raspberry Pi" \
          "# firmware's settings. The firmware starts U-Boot (kernel=u-boot.bin), which picks root" \
          "# slot A or B (boot.scr) and loads that slot's own kernel. Updates carry this file: it" \
          "# is rewritten from the slot that runs once a new version is committed." \
          "[all]" "arm_64bit=1" "upstream_kernel=1" "enable_uart=1" "kernel=u-boot.bin" "" \
          "# board/$BOARD/config.txt"
      cat "$repo/board/$BOARD/config.txt"; } > "$fw/config.txt"
    install -m 0644 "$here/rootfs/README-LAWLINE.txt" "$fw/README-LAWLINE.txt"
    rm -rf "$R/boot/firmware"; install -d "$R/boot/firmware"
    # stable names for U-Boot (hard links: no second copy)
    ver=$(ls "$R/lib/modules" | sort -V | tail -1)
    ln -f "$R/boot/vmlinuz-$ver" "$R/boot/vmlinuz"
    ln -f "$R/boot/initrd.img-$ver" "$R/boot/initrd.img"
}

# Root slot A's file system, content-sized so the bundle and its install stay small (RAUC
# grows it to the slot: resize=true); `make bundle` ships this same file.
root_ext4() {
    local used size
    used=$(du -sm "$ROOTFS" | cut -f1)
    size=$(( (used * 112 / 100 + 96 + 63) / 64 * 64 ))
    [ "$size" -le "$SLOT_SIZE" ] || die "the root needs $size MiB; a slot has $SLOT_SIZE"
    rm -f "$OUT/root.ext4"
    mke2fs -q -t ext4 -L lawline-root -i 8192 -d "$ROOTFS" "$OUT/root.ext4" "${size}M" \
        || die "mke2fs root"
    cp "$ROOTFS/usr/lib/lawline/version" "$OUT/root.ext4.version"
    log "root.ext4: $size MiB for $used MiB of files ($(cat "$OUT/root.ext4.version"))"
}

img() {
    [ -d "$ROOTFS" ] || die "no rootfs: $0 rootfs"
    host_tools dosfstools mtools e2fsprogs fdisk u-boot-tools
    local t0=$SECONDS w=$OUT/img.work
    rm -rf "$w"; mkdir -p "$w/data"
    # p1: the FAT partition: this slot's boot files, and U-Boot's state: slot A first, with
    # its three tries; slot B none (it is empty)
    mkfs.vfat -C -F 32 -n RASPIFIRM "$w/boot.vfat" $((FAT_SIZE * 1024)) >/dev/null
    mcopy -s -i "$w/boot.vfat" "$ROOTFS"/usr/lib/lawline/boot-firmware/* ::
    printf '%s\n' "BOOT_ORDER=A B" "BOOT_A_LEFT=3" "BOOT_B_LEFT=0" > "$w/uboot.txt"
    mkenvimage -s 0x4000 -o "$w/uboot.env" "$w/uboot.txt"
    mcopy -i "$w/boot.vfat" "$w/uboot.env" ::
    # p2: root slot A (/boot/firmware is an empty mount point in it)
    root_ext4
    # p4: LAWDATA, its layout made here with the image's lawline user and journal group
    local uid gid jgid
    uid=$(awk -F: '$1=="lawline"{print $3}' "$ROOTFS/etc/passwd"); gid=$(awk -F: '$1=="lawline"{print $4}' "$ROOTFS/etc/passwd")
    jgid=$(awk -F: '$1=="systemd-journal"{print $3}' "$ROOTFS/etc/group")
    mkdir -p "$w/data/lawline" "$w/data/etc-lawline" "$w/data/journal" "$w/data/ssh" "$w/data/rauc" "$w/data/update"
    chown "$uid:$gid" "$w/data/lawline" "$w/data/etc-lawline"; chmod 0700 "$w/data/lawline" "$w/data/etc-lawline" "$w/data/ssh"
    chown "0:$jgid" "$w/data/journal"; chmod 2755 "$w/data/journal"
    mke2fs -q -t ext4 -L LAWDATA -d "$w/data" "$w/data.ext4" "${DATA_SIZE}M"
    # the disk: MBR, p1 FAT32 LBA (bootable: U-Boot looks for boot.scr there), p2-p4 Linux
    local a=$((FAT_START + FAT_SIZE)) b=$((FAT_START + FAT_SIZE + SLOT_SIZE))
    local d=$((FAT_START + FAT_SIZE + 2 * SLOT_SIZE))
    rm -f "$IMG"; truncate -s "$((d + DATA_SIZE))M" "$IMG"
    sfdisk -q "$IMG" <<SF
label: dos
label-id: 0x$DISK_ID
start=${FAT_START}MiB, size=${FAT_SIZE}MiB, type=c, bootable
start=${a}MiB, size=${SLOT_SIZE}MiB, type=83
start=${b}MiB, size=${SLOT_SIZE}MiB, type=83
start=${d}MiB, size=${DATA_SIZE}MiB, type=83
SF
    dd if="$w/boot.vfat" of="$IMG" bs=1M seek=$FAT_START conv=notrunc,sparse status=none
    dd if="$OUT/root.ext4" of="$IMG" bs=1M seek=$a conv=notrunc,sparse status=none
    dd if="$w/data.ext4" of="$IMG" bs=1M seek=$d conv=notrunc,sparse status=none
    rm -rf "$w"
    log "image: $IMG $(stat -c %s "$IMG") bytes ($(du -h "$IMG" | cut -f1) allocated), made in $((SECONDS - t0)) s"
}

xzimg() {
    local t0=$SECONDS
    nice -n 19 xz -T2 -6 -k -f "$IMG"
    log "compressed: $IMG.xz $(stat -c %s "$IMG.xz") bytes in $((SECONDS - t0)) s"
}

case $stage in
    base) base ;;
    rootfs) rootfs ;;
    img) img ;;
    xz) xzimg ;;
    all) base; rootfs; img; xzimg ;;
    *) die "unknown stage $stage (base|rootfs|img|xz|all)" ;;
esac
