"""Rules for disks and the machine: dd, mkfs, wipefs, cryptsetup luksFormat, partition tables,
shred, storage volumes (zpool/zfs destroy, LVM), kill of every process, shutdown, crontab -r and
firewall flushes."""

from paii_hooks.argv import short_flag, split_flags
from paii_hooks.paths import is_device
from paii_hooks.rules_fs import check_write_target
from paii_hooks.shell import Part, Word


def dd(inv, cmd, ctx, depth):
    for a in inv.argv():
        if a and a.startswith("of="):
            check_write_target(Word([Part("lit", a[3:], True)]), ctx, inv.line())


def mkfs(inv, cmd, ctx, depth):
    if inv.prog == "cryptsetup":
        ops = [a for a in inv.argv() if a and not a.startswith("-")]
        if not ops or ops[0] not in ("luksFormat", "erase", "luksErase", "reencrypt"):
            return
    if inv.prog == "diskutil":
        argv = inv.argv()
        if not argv or argv[0] not in ("eraseDisk", "eraseVolume", "partitionDisk", "zeroDisk", "randomDisk",
                                       "secureErase", "reformat"):
            return
    _, operands = split_flags(inv.args)
    for t in operands:
        text = t.static()
        if text is None:
            ctx.add("disk-format", "`%s` formats %s, which is only known when it runs" % (inv.line(), t.text()))
        elif is_device(text) or (inv.prog == "diskutil" and text.startswith(("disk", "/dev/"))):
            ctx.add("disk-format", "`%s` erases %s (everything on it is lost)" % (inv.line(), text))


def partition(inv, cmd, ctx, depth):
    flags, operands = split_flags(inv.args)
    reads = ("-l", "--list", "-p", "--print", "--help", "-V", "--version") + (() if inv.prog == "parted" else ("-s", "--show"))
    if any(f in reads for f in flags):
        return  # (parted -s is --script: it changes the disk without asking)
    if inv.prog == "parted" and any((o.static() or "") in ("print", "p", "list") for o in operands):
        return
    for t in operands:
        if is_device(t.static() or ""):
            ctx.add("disk-partition", "`%s` changes the partitions of %s" % (inv.line(), t.static()))
            return


def shred(inv, cmd, ctx, depth):
    _, operands = split_flags(inv.args)
    for t in operands:
        check_write_target(t, ctx, inv.line())


def kill(inv, cmd, ctx, depth):
    argv = [a for a in inv.argv() if a is not None]
    if inv.prog == "killall5" or (argv and argv[-1] in ("-1", "1") and (len(argv) > 1 or argv[-1] == "1")):
        ctx.add("kill-all", "`%s` kills every process (or init), which stops the machine" % inv.line())


def shutdown(inv, cmd, ctx, depth):
    argv = inv.argv()
    if inv.prog in ("init", "telinit") and not (argv and argv[0] in ("0", "6")):
        return
    if inv.prog == "systemctl" and not (argv and any(a in ("poweroff", "reboot", "halt", "kexec", "suspend",
                                                           "hibernate", "emergency", "rescue") for a in argv)):
        return
    if any(a in ("--help", "--version") for a in argv if a) or (inv.prog == "shutdown" and "-c" in argv):
        return
    ctx.add("shutdown", "`%s` stops or restarts the machine" % inv.line())


def crontab(inv, cmd, ctx, depth):
    if any(short_flag([a], "r") for a in inv.argv() if a and a.startswith("-") and not a.startswith("--")):
        ctx.add("crontab-remove", "`%s` deletes every cron job of the user, without a copy" % inv.line())


def firewall(inv, cmd, ctx, depth):
    argv = [a for a in inv.argv() if a]
    if inv.prog in ("iptables", "ip6tables") and any(a in ("-F", "--flush", "-X", "--delete-chain") for a in argv) \
            or (inv.prog in ("iptables", "ip6tables") and "-P" in argv and "DROP" in argv) \
            or (inv.prog == "nft" and "flush" in argv and "ruleset" in argv) \
            or (inv.prog == "ufw" and ("reset" in argv or "disable" in argv)):
        ctx.add("firewall-flush", "`%s` changes the whole firewall (can cut every connection to this machine)" % inv.line())




VOLUME_DELETES = {"zpool": ("destroy", "labelclear"), "zfs": ("destroy",), "lvremove": None, "vgremove": None,
                  "pvremove": None, "lvreduce": None, "btrfs": ("delete",)}


def volumes(inv, cmd, ctx, depth):
    argv = [a for a in inv.argv() if a is not None]
    subs = VOLUME_DELETES[inv.prog]
    ops = [a for a in argv if not a.startswith("-")]
    if subs is None or any(o in subs for o in ops[:2]):
        ctx.add("volume-remove", "`%s` deletes a storage volume and the data on it" % inv.line())


CHECKS = {
    "dd": dd, "mke2fs mkswap wipefs blkdiscard mkntfs mkdosfs newfs diskutil cryptsetup": mkfs,
    "fdisk sfdisk gdisk sgdisk cfdisk parted": partition, "shred": shred, "kill killall5": kill,
    "shutdown reboot halt poweroff init telinit systemctl": shutdown, "crontab": crontab,
    "iptables ip6tables nft ufw": firewall, " ".join(VOLUME_DELETES): volumes,
}
