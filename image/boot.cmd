# lawline: U-Boot's bootchooser for the two root slots, A (partition 2) and B (partition 3).
# The same script on a Raspberry Pi (its firmware starts u-boot.bin: config.txt kernel=) and in
# QEMU (-bios u-boot.bin): image/build-image.sh compiles it to boot.scr on the FAT partition.
#
# State: uboot.env on this FAT partition (16 KiB, CRC-protected), the file RAUC's U-Boot backend
# writes through fw_setenv (/etc/fw_env.config):
#   BOOT_ORDER    slots in order of preference ("A B": A first)
#   BOOT_x_LEFT   tries slot x has left; each boot spends one, `rauc status mark-good` (after
#                 the box passed its health check) gives them back, RAUC gives a newly
#                 installed slot exactly 1 (system.conf boot-attempts-primary)
#   lawline_machine_id   the machine id first boot pinned (the journal stays one folder)
#   lawline_cmdline      extra kernel arguments (the QEMU tests: lawline.imagetest)
# Read and written here with env import/export + fatwrite, not saveenv: QEMU's U-Boot keeps its
# own environment in flash, the Pi's in this file; this way both use this file alike.
setenv lawline_env uboot.env
if test "${board}" = "rpi"; then
    # Debian's arm64 kernel is a 33 MB uncompressed Image: more than fits between the Pi
    # U-Boot's kernel_addr_r (0x80000) and its scriptaddr (0x2400000, this script) or
    # ramdisk_addr_r; load it at 48 MiB and the initrd at 128 MiB instead (Pi only)
    setenv kernel_addr_r 0x03000000
    setenv ramdisk_addr_r 0x08000000
fi
setenv lawline_scratch ${ramdisk_addr_r}
setenv BOOT_ORDER
setenv BOOT_A_LEFT
setenv BOOT_B_LEFT
setenv lawline_machine_id
setenv lawline_cmdline
if load ${devtype} ${devnum}:1 ${lawline_scratch} ${lawline_env}; then
    env import -c ${lawline_scratch} 0x4000 BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT lawline_machine_id lawline_cmdline
fi
test -n "${BOOT_ORDER}" || setenv BOOT_ORDER "A B"
test -n "${BOOT_A_LEFT}" || setenv BOOT_A_LEFT 3
test -n "${BOOT_B_LEFT}" || setenv BOOT_B_LEFT 0

setenv lawline_part
for slot in ${BOOT_ORDER}; do
    if test -n "${lawline_part}"; then
        true
    elif test "${slot}" = "A" && test ${BOOT_A_LEFT} -gt 0; then
        setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1
        setenv lawline_part 2
        setenv lawline_slot A
    elif test "${slot}" = "B" && test ${BOOT_B_LEFT} -gt 0; then
        setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1
        setenv lawline_part 3
        setenv lawline_slot B
    fi
done
if test -z "${lawline_part}"; then
    # Neither slot has a try left (both failed in a row): never leave the box dead; start
    # over with the preferred one.
    echo "lawline: no slot has a try left; giving both three again"
    setenv BOOT_A_LEFT 3
    setenv BOOT_B_LEFT 3
    for slot in ${BOOT_ORDER}; do
        if test -z "${lawline_part}"; then
            setenv lawline_slot ${slot}
            if test "${slot}" = "A"; then setenv lawline_part 2; setexpr BOOT_A_LEFT 2; fi
            if test "${slot}" = "B"; then setenv lawline_part 3; setexpr BOOT_B_LEFT 2; fi
        fi
    done
fi
echo "lawline: booting slot ${lawline_slot} (partition ${lawline_part}); order ${BOOT_ORDER}, tries left A ${BOOT_A_LEFT} B ${BOOT_B_LEFT}"

# The try is spent before the kernel starts: a slot that hangs or panics (panic=10) comes back
# here with one try fewer.
env export -c -s 0x4000 ${lawline_scratch} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT lawline_machine_id lawline_cmdline
fatwrite ${devtype} ${devnum}:1 ${lawline_scratch} ${lawline_env} 0x4000

part uuid ${devtype} ${devnum}:${lawline_part} lawline_root
if test "${board}" = "rpi"; then
    setenv lawline_console "console=tty0 console=ttyS1,115200"
else
    setenv lawline_console "console=ttyAMA0"
fi
setenv bootargs "root=PARTUUID=${lawline_root} ro rootwait fsck.repair=yes net.ifnames=0 panic=10 rauc.slot=${lawline_slot} ${lawline_console} ${lawline_cmdline}"
if test -n "${lawline_machine_id}"; then
    setenv bootargs "${bootargs} systemd.machine_id=${lawline_machine_id}"
fi
# the kernel and initrd of the slot itself (its /boot), so they always match its modules
if load ${devtype} ${devnum}:${lawline_part} ${kernel_addr_r} /boot/vmlinuz; then
    if load ${devtype} ${devnum}:${lawline_part} ${ramdisk_addr_r} /boot/initrd.img; then
        setenv lawline_initrd ${ramdisk_addr_r}:${filesize}
        test -n "${fdt_addr}" || setenv fdt_addr ${fdtcontroladdr}
        booti ${kernel_addr_r} ${lawline_initrd} ${fdt_addr}
    fi
fi
echo "lawline: slot ${lawline_slot} has no bootable kernel; restarting to try the other"
reset
