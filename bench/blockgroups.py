"""blockgroups.py - each benchmark instance on an ext4 block group of its own.

On ext4 without a journal a new inode is taken from the first free one of
its directory's block group, and every free inode before it that was freed
in the last 60 s (360 s while its inode-table block is dirty) is looked up
and passed over (ext4's recently_deleted). An instance made in a folder
where other instances were just removed (by this bench, an earlier run of
it, or any other benchmark on the machine) pays for those removals with
every file it creates. A bench makes its instances under rows_root(), a
folder marked as a top of directory hierarchies (chattr +T), where ext4
places each new folder like a top-level one (a group with the fewest
folders), and own_dir() refuses a group that an earlier instance of the
same bench used or that a bench emptied in the last RECENT_SECONDS
(GROUPS_FILE in the base folder). remove_rows() removes the lot and notes
its groups. Off ext4 (tmpfs) the helpers do nothing special.
docs/benchmarks.md, "Each row on its own block group".
"""
import array
import fcntl
import os
import shutil
import tempfile
import time

GROUPS_FILE = ".bench-groups"  # in the base folder: groups freed and when
RECENT_SECONDS = 400  # ext4 passes over inodes freed in the last 60 s (360 dirty)
FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, FS_TOPDIR_FL = 0x80086601, 0x40086602, 0x20000


def mount_device(path):
    """The device name (vda) of the ext4 file system holding path, or None."""
    dev = os.stat(path).st_dev
    want = f"{os.major(dev)}:{os.minor(dev)}"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            fstype, source = right.split()[:2]
            if left.split()[2] == want and fstype == "ext4":
                return os.path.basename(source)
    return None


def inodes_per_group(path):
    """Inodes per ext4 block group of path's file system (its inode count
    over the groups /proc/fs/ext4/DEV/mb_groups lists), or None."""
    dev = mount_device(path)
    if not dev:
        return None
    try:
        with open(f"/proc/fs/ext4/{dev}/mb_groups") as f:
            groups = sum(1 for line in f if line[1:2].isdigit())  # "#N : ..."
    except OSError:
        return None
    return os.statvfs(path).f_files // groups if groups else None


def block_group(path):
    """The ext4 block group holding path's inode, or None off ext4."""
    ipg = inodes_per_group(path)
    return (os.stat(path).st_ino - 1) // ipg if ipg else None


def mark_top(path):
    """Mark a folder as a top of directory hierarchies (chattr +T): ext4
    spreads its subfolders over the block groups as it does top-level
    ones (Orlov), each to a group with the fewest folders. False where
    the file system has no such flag."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        flags = array.array("l", [0])
        fcntl.ioctl(fd, FS_IOC_GETFLAGS, flags, True)
        flags[0] |= FS_TOPDIR_FL
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, flags, True)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def recent_groups(base):
    """{block group: time} where an earlier bench removed its rows less
    than RECENT_SECONDS ago (GROUPS_FILE in base)."""
    now, groups = time.time(), {}
    try:
        with open(os.path.join(base, GROUPS_FILE)) as f:
            for line in f:
                group, when = line.split()
                if now - float(when) < RECENT_SECONDS:
                    groups[int(group)] = float(when)
    except (OSError, ValueError):
        pass
    return groups


def note_removed(base, groups):
    """Add the block groups just freed to GROUPS_FILE in base."""
    recent = recent_groups(base)
    recent.update(dict.fromkeys(groups, time.time()))
    with open(os.path.join(base, GROUPS_FILE), "w") as f:
        for group, when in sorted(recent.items()):
            f.write(f"{group} {when}\n")


class Rows:
    """The folder of one bench's instances, each with a block group of its
    own (apart), or all in one folder as before (not apart)."""

    def __init__(self, base, prefix, apart=True):
        self.base, self.apart = base, apart
        self.path = tempfile.mkdtemp(prefix=prefix, dir=base)
        os.chmod(self.path, 0o755)
        self.used = set(recent_groups(base)) if apart else set()
        self.spread = apart and mark_top(self.path)

    def own_dir(self, prefix):
        """A new folder for one instance, in a block group that no earlier
        instance of this bench and no bench that ended lately used: its
        inodes, created and freed, are its server's alone."""
        for _ in range(20):
            path = tempfile.mkdtemp(prefix=prefix, dir=self.path)
            group = block_group(path) if self.apart else None
            if group is None or group not in self.used:
                break
        if group is not None:
            self.used.add(group)
        os.chmod(path, 0o755)
        return path

    def remove(self):
        """Remove every instance; note the groups it freed."""
        groups = {block_group(os.path.join(self.path, d)) for d in os.listdir(self.path)}
        shutil.rmtree(self.path, ignore_errors=True)
        if self.apart and groups - {None}:
            note_removed(self.base, groups - {None})
