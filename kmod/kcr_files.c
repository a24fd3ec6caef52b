// SPDX-License-Identifier: GPL-2.0
/*
 * kcr: open files, cwd, umask and resource limits.
 *
 * Dump: the parked target takes a reference on each of its open files
 * (current->files is stable in its own context); the writer kthread then
 * classifies them, records path/flags/offset/size, saves the contents of
 * deleted-but-open files, and refuses — naming the fd — anything kcr cannot
 * recreate (sockets, pipes beyond stdio, devices, epoll, io_uring, ...).
 * A tree's member records its pipes instead, and a TREE section: its place
 * in the tree and which open file each fd is, so that libkcr can make each
 * pipe and shared open file once for the whole tree.
 * The file locks it holds are recorded too (LOCKS), each with the fd to take
 * it again through.
 *
 * Restore happens in user space (lib/src/restore_files.cpp): only user space
 * can put a file at an exact descriptor number (dup2); the kernel has no
 * exported way to do that. Files are reopened with the restorer's
 * credentials, so an image never grants access its user lacks.
 */
#include <linux/fs.h>
#include <linux/file.h>
#include <linux/fdtable.h>
#include <linux/pagemap.h>
#include <linux/fs_struct.h>
#include <linux/kdev_t.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/resource.h>
#include <linux/module.h>
#include <linux/magic.h>
#include <linux/pipe_fs_i.h>
#include <linux/once.h>
#include <linux/random.h>
#include <linux/siphash.h>
#include "kcr_internal.h"

#define KCR_MAX_FDS 4096
#define KCR_MAX_GHOST_BYTES (256ULL << 20)
#define KCR_MAX_LOCKS 1024

struct kcr_open_file {
	int fd;
	bool cloexec;
	struct file *file;
	fl_owner_t owner; /* the fd table: owner of the process's POSIX locks */
	/*
	 * A deleted file open only for writing: a read-only open of it made
	 * with the target's rights (the writer may only read what the target
	 * could), NULL if the target may not read it either.
	 */
	struct file *reader;
};

struct kcr_files_state {
	bool tree; /* KCR_CKPT_TREE: pipes recorded, and a TREE section */
	struct kcr_tree_process place;
	u32 nr;
	struct kcr_open_file ent[KCR_MAX_FDS];
	struct path cwd;
	bool have_cwd;
	u32 umask;
	struct kcr_rlimit rlim[KCR_NR_RLIMITS];
};

struct kcr_files_state *kcr_files_state_alloc(bool tree)
{
	struct kcr_files_state *st = kvzalloc(sizeof(*st), GFP_KERNEL);

	if (st)
		st->tree = tree;
	return st;
}

void kcr_files_state_free(struct kcr_files_state *st)
{
	u32 i;

	if (!st)
		return;
	for (i = 0; i < st->nr; i++) {
		fput(st->ent[i].file);
		if (st->ent[i].reader)
			fput(st->ent[i].reader);
	}
	if (st->have_cwd)
		path_put(&st->cwd);
	kvfree(st);
}

/*
 * A POSIX lock is the process's, on the file, whichever fd took it; it is
 * taken again through the fd of the open file that took it (which
 * /proc/PID/fdinfo lists it under), else one open for what the lock needs.
 */
static int kcr_posix_lock_fd(const struct kcr_files_state *st, u32 first,
			     const struct file_lock *fl)
{
	fmode_t need = fl->fl_type == F_WRLCK ? FMODE_WRITE : FMODE_READ;
	struct inode *inode = file_inode(st->ent[first].file);
	u32 j;

	for (j = 0; j < st->nr; j++) {
		if (st->ent[j].file == fl->fl_file)
			return st->ent[j].fd;
	}
	for (j = first; j < st->nr; j++) {
		if (file_inode(st->ent[j].file) == inode && (st->ent[j].file->f_mode & need))
			return st->ent[j].fd;
	}
	return st->ent[first].fd;
}

/* Stores one lock record at out[at]; with out NULL (counting) only checks. */
static void kcr_lock_put(const struct kcr_files_state *st, u32 i, struct kcr_file_lock *out, u32 at,
			 const struct file_lock *fl, u32 kind)
{
	struct kcr_file_lock *l;

	if (!out || at >= KCR_MAX_LOCKS)
		return;
	l = &out[at];
	memset(l, 0, sizeof(*l));
	l->fd = kind == KCR_LOCK_POSIX ? kcr_posix_lock_fd(st, i, fl) : st->ent[i].fd;
	l->kind = kind;
	l->type = fl->fl_type == F_WRLCK ? KCR_LOCK_WRITE : KCR_LOCK_READ;
	if (kind != KCR_LOCK_FLOCK) {
		l->start = fl->fl_start;
		l->len = fl->fl_end == OFFSET_MAX ? 0 : fl->fl_end - fl->fl_start + 1;
	}
}

/*
 * The locks recorded through fd i, of kind `kind`: the flock and OFD locks
 * of its open file and, at the first fd of its file, the process's POSIX
 * locks on that file. An fd sharing an earlier fd's open file records none
 * (they are that fd's). Adds them to out[*n...] (only counts them with out
 * NULL), walking no further than the limit (the lists are walked under a
 * spinlock). A lease, or a lock on a file kcr does not reopen by path, is
 * refused.
 */
static int kcr_fd_locks(const struct kcr_files_state *st, u32 i, u32 kind,
			struct kcr_file_lock *out, u32 *n, struct kcr_reason *why)
{
	const struct kcr_open_file *of = &st->ent[i];
	struct file *f = of->file;
	struct inode *inode = file_inode(f);
	struct file_lock_context *ctx = READ_ONCE(inode->i_flctx);
	bool posix = true, lease = false, unreachable = false;
	struct file_lock *fl;
	u32 j, found = 0;

	if (!ctx)
		return 0;
	for (j = 0; j < i; j++) {
		if (st->ent[j].file == f)
			return 0;
		if (file_inode(st->ent[j].file) == inode)
			posix = false;
	}
	spin_lock(&ctx->flc_lock);
	list_for_each_entry(fl, &ctx->flc_flock, fl_list) {
		if (*n + found > KCR_MAX_LOCKS)
			break;
		if (fl->fl_file == f)
			kcr_lock_put(st, i, out, *n + found++, fl, KCR_LOCK_FLOCK);
	}
	list_for_each_entry(fl, &ctx->flc_posix, fl_list) {
		if (*n + found > KCR_MAX_LOCKS)
			break;
		if (fl->fl_flags & FL_OFDLCK) {
			if (fl->fl_file == f)
				kcr_lock_put(st, i, out, *n + found++, fl, KCR_LOCK_OFD);
		} else if (posix && fl->fl_owner == of->owner) {
			/* Taken through a name the file no longer has (a deleted link)? */
			unreachable |= !fl->fl_file || d_unlinked(fl->fl_file->f_path.dentry);
			kcr_lock_put(st, i, out, *n + found++, fl, KCR_LOCK_POSIX);
		}
	}
	list_for_each_entry(fl, &ctx->flc_lease, fl_list)
		lease |= fl->fl_file == f;
	spin_unlock(&ctx->flc_lock);
	if (lease) {
		kcr_set_reason(why, "fd %d holds a lease (F_SETLEASE), which kcr cannot save",
			       of->fd);
		return -EOPNOTSUPP;
	}
	if (found && (kind != KCR_FD_REG || unreachable)) {
		kcr_set_reason(why,
			       "fd %d holds a file lock on a file kcr does not reopen by path (a deleted file or a device); kcr cannot take it again",
			       of->fd);
		return -EOPNOTSUPP;
	}
	if (*n + found > KCR_MAX_LOCKS) {
		kcr_set_reason(why, "the process holds more than %d file locks", KCR_MAX_LOCKS);
		return -EOPNOTSUPP;
	}
	*n += found;
	return 0;
}

static bool kcr_is_writeonly_ghost(const struct file *f)
{
	return S_ISREG(file_inode(f)->i_mode) && d_unlinked(f->f_path.dentry) &&
	       !(f->f_mode & FMODE_READ);
}

/*
 * Runs in the parked target, as the target: its contents are saved only if
 * the target itself could read the file.
 */
static void kcr_open_reader(struct kcr_open_file *of)
{
	struct file *f = of->file;
	struct file *r;

	if (inode_permission(file_mnt_user_ns(f), file_inode(f), MAY_READ | MAY_OPEN))
		return;
	r = dentry_open(&f->f_path, O_RDONLY | O_LARGEFILE, current_cred());
	if (!IS_ERR(r))
		of->reader = r;
}

/* /dev/kcr itself: a character device whose operations are this module's. */
static bool kcr_is_device_file(const struct file *f)
{
	return f->f_op && f->f_op->owner == THIS_MODULE && S_ISCHR(file_inode(f)->i_mode);
}

/*
 * Runs in the parked target. Returns -EMFILE when it has too many files. A
 * self-checkpoint has the image and /dev/kcr open: neither is part of the
 * program's state, and the image cannot contain itself. Another process's
 * /dev/kcr is a device like any other: refused.
 */
int kcr_files_capture(struct kcr_files_state *st, const struct file *skip, bool self)
{
	struct files_struct *files = current->files;
	struct fs_struct *fs = current->fs;
	unsigned int fd;
	int i;

	rcu_read_lock();
	for (fd = 0;; fd++) {
		struct fdtable *fdt = files_fdtable(files);
		struct file *f;

		if (fd >= fdt->max_fds)
			break;
		f = files_lookup_fd_rcu(files, fd);
		if (!f || f == skip || (self && kcr_is_device_file(f)) || !get_file_rcu(f))
			continue;
		if (st->nr >= KCR_MAX_FDS) {
			fput(f);
			rcu_read_unlock();
			return -EMFILE;
		}
		st->ent[st->nr].fd = fd;
		st->ent[st->nr].cloexec = close_on_exec(fd, fdt);
		st->ent[st->nr].file = f;
		st->ent[st->nr].owner = files;
		st->nr++;
	}
	rcu_read_unlock();
	/* Outside RCU: opening may sleep. */
	for (i = 0; i < st->nr; i++)
		if (kcr_is_writeonly_ghost(st->ent[i].file))
			kcr_open_reader(&st->ent[i]);

	spin_lock(&fs->lock);
	st->cwd = fs->pwd;
	path_get(&st->cwd);
	st->have_cwd = true;
	st->umask = fs->umask;
	spin_unlock(&fs->lock);

	task_lock(current->group_leader);
	for (i = 0; i < KCR_NR_RLIMITS && i < RLIM_NLIMITS; i++) {
		st->rlim[i].cur = current->signal->rlim[i].rlim_cur;
		st->rlim[i].max = current->signal->rlim[i].rlim_max;
	}
	task_unlock(current->group_leader);
	if (st->tree) {
		/* As the process itself sees them, as its pid is recorded. */
		rcu_read_lock();
		st->place.ppid = task_tgid_vnr(rcu_dereference(current->real_parent));
		rcu_read_unlock();
		st->place.pgid = task_pgrp_vnr(current);
		st->place.sid = task_session_vnr(current);
	}
	return 0;
}

/* An anonymous pipe (pipe(2)); named FIFOs are files of a filesystem. */
static bool kcr_is_pipe(const struct file *f)
{
	return S_ISFIFO(file_inode(f)->i_mode) && file_inode(f)->i_sb->s_magic == PIPEFS_MAGIC;
}

/* memfds: where a memfd is recorded (the dump); NULL: only classified (the check) */
static int kcr_fd_classify(const struct kcr_files_state *st, const struct kcr_open_file *of,
			   struct kcr_memfds *memfds, struct kcr_fd *rec, struct kcr_reason *why)
{
	struct file *f = of->file;
	struct inode *inode = file_inode(f);
	umode_t mode = inode->i_mode;

	rec->fd = of->fd;
	rec->f_flags = f->f_flags;
	rec->fd_flags = of->cloexec ? KCR_FD_CLOEXEC : 0;
	rec->pos = f->f_pos;
	rec->mode = mode;
	rec->ino = inode->i_ino;
	rec->dev = inode->i_sb->s_dev;
	if (f->f_mode & FMODE_PATH)
		goto unsupported;
	if (kcr_is_memfd(f)) {
		int err;

		if (st->tree) {
			kcr_set_reason(why,
				       "fd %d is a memfd (memfd_create) in a process tree, which kcr cannot save yet",
				       of->fd);
			return -EOPNOTSUPP;
		}
		rec->kind = KCR_FD_MEMFD;
		rec->size = i_size_read(inode);
		err = kcr_memfd_check(f, why);
		if (err || !memfds)
			return err;
		return kcr_memfd_ref(memfds, f, &rec->ghost_id, why);
	}
	if (S_ISREG(mode) || S_ISDIR(mode)) {
		rec->size = i_size_read(inode);
		rec->kind = d_unlinked(f->f_path.dentry) ? KCR_FD_GHOST : KCR_FD_REG;
		if (rec->kind == KCR_FD_GHOST &&
		    (S_ISDIR(mode) || rec->size > KCR_MAX_GHOST_BYTES)) {
			kcr_set_reason(why, "fd %d is a deleted %s too large to save", of->fd,
				       S_ISDIR(mode) ? "directory" : "file");
			return -EOPNOTSUPP;
		}
		if (rec->kind == KCR_FD_GHOST && kcr_is_writeonly_ghost(f) && !of->reader) {
			kcr_set_reason(why,
				       "fd %d is a deleted file open only for writing, whose contents the process may not read; kcr cannot save it",
				       of->fd);
			return -EOPNOTSUPP;
		}
		return 0;
	}
	if (S_ISCHR(mode) && inode->i_rdev == MKDEV(1, 3)) {
		rec->kind = KCR_FD_DEVNULL;
		return 0;
	}
	if (S_ISCHR(mode) && inode->i_rdev == MKDEV(1, 5)) {
		rec->kind = KCR_FD_DEVZERO;
		return 0;
	}
	if (st->tree && kcr_is_pipe(f)) {
		/* Packet mode keeps message boundaries a restore cannot see. */
		if (f->f_flags & O_DIRECT) {
			kcr_set_reason(why,
				       "fd %d is a packet-mode pipe (O_DIRECT), which kcr cannot save",
				       of->fd);
			return -EOPNOTSUPP;
		}
		rec->kind = KCR_FD_PIPE;
		return 0;
	}
	/* stdio of a kind kcr cannot save (tty, pipe, socket) comes from the restarter. */
	if (of->fd <= 2) {
		rec->kind = KCR_FD_INHERIT;
		return 0;
	}
unsupported:
	if (inode->i_sb->s_magic == ANON_INODE_FS_MAGIC) {
		/* eventfd, timerfd, signalfd, epoll, inotify, io_uring, ...: named as made */
		const char *name = f->f_path.dentry->d_name.name;
		size_t len = strcspn(name + (*name == '['), "]");

		if (!strcmp(name, "[eventpoll]"))
			name = "[epoll]", len = 5;
		kcr_set_reason(why, "fd %d is a%s %.*s descriptor, which kcr cannot save", of->fd,
			       strchr("aeiou", name[*name == '[']) ? "n" : "", (int)len,
			       name + (*name == '['));
		return -EOPNOTSUPP;
	}
	kcr_set_reason(why, "fd %d is a %s, which kcr cannot save", of->fd,
		       S_ISSOCK(mode)		? "socket" :
		       S_ISFIFO(mode)		? "pipe or FIFO" :
		       S_ISCHR(mode)		? "character device" :
		       S_ISBLK(mode)		? "block device" :
		       (f->f_mode & FMODE_PATH) ? "O_PATH descriptor" :
						  "special file (eventfd, epoll, io_uring, ...)");
	return -EOPNOTSUPP;
}

/* Checks every fd before the writer starts, so a refusal costs no I/O. */
int kcr_files_check(const struct kcr_files_state *st, struct kcr_reason *why)
{
	struct kcr_fd rec;
	u32 i, nlocks = 0;
	int err;

	for (i = 0; i < st->nr; i++) {
		memset(&rec, 0, sizeof(rec));
		err = kcr_fd_classify(st, &st->ent[i], NULL, &rec, why);
		if (!err)
			err = kcr_fd_locks(st, i, rec.kind, NULL, &nlocks, why);
		if (err)
			return err;
	}
	return 0;
}

/*
 * An fd whose open file an earlier fd has too (dup, inherited): recorded as
 * the same, so that the restore shares it again (one offset, one set of
 * flags) instead of opening the file twice. stdio of kinds kcr cannot save
 * is the restarter's anyway.
 */
static void kcr_fd_sharing(const struct kcr_files_state *st, u32 i, struct kcr_fd *rec)
{
	u32 j;

	if (rec->kind == KCR_FD_INHERIT)
		return;
	for (j = 0; j < i; j++) {
		if (st->ent[j].file == st->ent[i].file) {
			rec->kind = KCR_FD_SAME;
			rec->same_as = st->ent[j].fd;
			return;
		}
	}
}

/* The LOCKS section, when the process holds any lock. */
static int kcr_locks_dump(struct kcr_writer *w, const struct kcr_files_state *st,
			  const struct kcr_fd *recs, struct kcr_reason *why)
{
	struct kcr_file_lock *locks;
	u32 i, n = 0;
	int err = 0;

	locks = kvcalloc(KCR_MAX_LOCKS, sizeof(*locks), GFP_KERNEL);
	if (!locks)
		return -ENOMEM;
	for (i = 0; i < st->nr && !err; i++)
		err = kcr_fd_locks(st, i, recs[i].kind, locks, &n, why);
	if (!err && n) {
		kcr_section_begin(w, KCR_SEC_LOCKS, true);
		kcr_section_write(w, locks, n * sizeof(*locks));
		kcr_section_end(w, n);
	}
	kvfree(locks);
	return err ? err : w->err;
}

int kcr_files_dump(struct kcr_writer *w, const struct kcr_files_state *st,
		   struct kcr_memfds *memfds, struct kcr_reason *why)
{
	struct kcr_fd *recs;
	char *pathbuf;
	void *buf = NULL;
	u32 i, nghost = 0;
	int err = 0;

	recs = kvcalloc(st->nr ? st->nr : 1, sizeof(*recs), GFP_KERNEL);
	pathbuf = kmalloc(PATH_MAX, GFP_KERNEL);
	if (!recs || !pathbuf) {
		err = -ENOMEM;
		goto out;
	}
	kcr_section_begin(w, KCR_SEC_FILES, true);
	for (i = 0; i < st->nr && !err; i++) {
		struct kcr_fd *rec = &recs[i];
		char *p = "";

		err = kcr_fd_classify(st, &st->ent[i], memfds, rec, why);
		if (err)
			break;
		kcr_fd_sharing(st, i, rec);
		if (rec->kind == KCR_FD_REG || rec->kind == KCR_FD_GHOST) {
			p = file_path(st->ent[i].file, pathbuf, PATH_MAX);
			if (IS_ERR(p)) {
				kcr_set_reason(why, "cannot name the file of fd %d", rec->fd);
				err = PTR_ERR(p);
				break;
			}
		}
		if (rec->kind == KCR_FD_GHOST)
			rec->ghost_id = nghost++;
		rec->path_len = strlen(p);
		kcr_section_write(w, rec, sizeof(*rec));
		kcr_section_write_padded(w, p, rec->path_len);
	}
	kcr_section_end(w, st->nr);
	if (err)
		goto out;
	if (!nghost)
		goto locks;

	buf = kmalloc(KCR_FILE_COPY_BYTES, GFP_KERNEL);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	kcr_section_begin(w, KCR_SEC_GHOST, true);
	for (i = 0; i < st->nr && !err; i++) {
		struct kcr_ghost g = {};

		if (recs[i].kind != KCR_FD_GHOST)
			continue;
		g.size = recs[i].size;
		g.mode = recs[i].mode;
		g.id = recs[i].ghost_id;
		kcr_section_write(w, &g, sizeof(g));
		err = kcr_section_write_file(w, st->ent[i].reader ?: st->ent[i].file, g.size, buf);
		kcr_section_write_padded(w, NULL, g.size);
	}
	kcr_section_end(w, nghost);
	if (err)
		kcr_set_reason(why, "saving the contents of a deleted open file failed (%d)", err);
locks:
	if (!err)
		err = kcr_locks_dump(w, st, recs, why);
out:
	kfree(buf);
	kfree(pathbuf);
	kvfree(recs);
	return err ? err : w->err;
}

/*
 * Syncs a file the program wrote, or maps shared and writable: the image
 * records each file's size, and a restore refuses a file that shrank, or a
 * mapped file whose size differs; what the program wrote before the
 * checkpoint must outlive a crash of the node (on NFS, a client's unwritten
 * pages die with it), or the committed image could not be restored. The
 * target is still stopped, so nothing is written meanwhile.
 */
int kcr_file_sync(const struct kcr_writer *w, struct file *f, struct kcr_reason *why)
{
	errseq_t since;
	char *buf, *p;
	int err;

	/* Files with nothing to sync (procfs, sysfs) have no fsync. */
	if (!(f->f_mode & FMODE_WRITE) || !S_ISREG(file_inode(f)->i_mode) || !f->f_op->fsync)
		return 0;
	if (kcr_writer_aborted(w))
		return -EINTR;
	/*
	 * Only an error of this sync refuses the checkpoint: the descriptor's
	 * error cursor is moved to now for it (an old error, which the program
	 * has not asked about, would otherwise refuse every checkpoint until
	 * it does), then put back, so the program's own next fsync() sees
	 * every error.
	 */
	spin_lock(&f->f_lock);
	since = f->f_wb_err;
	f->f_wb_err = filemap_sample_wb_err(f->f_mapping);
	spin_unlock(&f->f_lock);
	err = vfs_fsync(f, 1);
	spin_lock(&f->f_lock);
	f->f_wb_err = since;
	spin_unlock(&f->f_lock);
	if (!err)
		return 0;
	buf = kmalloc(PATH_MAX, GFP_KERNEL);
	p = buf ? file_path(f, buf, PATH_MAX) : ERR_PTR(-ENOMEM);
	kcr_set_reason(why, "the program's written data in %s could not be synced (%d)",
		       IS_ERR(p) ? "a file" : p, err);
	kfree(buf);
	return err;
}

int kcr_files_sync(const struct kcr_writer *w, const struct kcr_files_state *st,
		   struct kcr_reason *why)
{
	u32 i;
	int err;

	for (i = 0; i < st->nr; i++) {
		err = kcr_file_sync(w, st->ent[i].file, why);
		if (err)
			return err;
	}
	return 0;
}

int kcr_fs_dump(struct kcr_writer *w, const struct kcr_files_state *st, struct kcr_reason *why)
{
	struct kcr_fs fs = {};
	char *buf = kmalloc(PATH_MAX, GFP_KERNEL);
	char *p;

	if (!buf)
		return -ENOMEM;
	p = d_path(&st->cwd, buf, PATH_MAX);
	if (IS_ERR(p)) {
		kfree(buf);
		kcr_set_reason(why, "cannot name the working directory");
		return PTR_ERR(p);
	}
	fs.umask = st->umask;
	fs.cwd_len = strlen(p);
	memcpy(fs.rlim, st->rlim, sizeof(fs.rlim));
	kcr_section_begin(w, KCR_SEC_FS, true);
	kcr_section_write(w, &fs, sizeof(fs));
	kcr_section_write_padded(w, p, fs.cwd_len);
	kcr_section_end(w, 1);
	kfree(buf);
	return w->err;
}

/*
 * A tree member's TREE section. An open file is named by a keyed hash of
 * its address, drawn once per module load: equal in two members for the
 * same open file, and telling nothing of kernel addresses.
 */
int kcr_tree_dump(struct kcr_writer *w, const struct kcr_files_state *st)
{
	static siphash_key_t file_id_key;
	u32 i;

	get_random_once(&file_id_key, sizeof(file_id_key));
	kcr_section_begin(w, KCR_SEC_TREE, true);
	kcr_section_write(w, &st->place, sizeof(st->place));
	for (i = 0; i < st->nr; i++) {
		struct file *f = st->ent[i].file;
		struct kcr_tree_fd t = {
			.fd = st->ent[i].fd,
			.file_id = siphash_1u64((u64)(unsigned long)f, &file_id_key),
		};

		if (kcr_is_pipe(f)) {
			struct pipe_inode_info *pipe = f->private_data;

			t.pipe_readers = READ_ONCE(pipe->readers);
			t.pipe_writers = READ_ONCE(pipe->writers);
		}
		kcr_section_write(w, &t, sizeof(t));
	}
	kcr_section_end(w, st->nr);
	return w->err;
}

/* The open files of each end of the pipe at fd of a held process, now. */
int kcr_task_pipe_counts(struct task_struct *t, int fd, u32 *readers, u32 *writers)
{
	struct pipe_inode_info *pipe;
	struct file *f = NULL;

	task_lock(t);
	if (t->files) {
		rcu_read_lock();
		f = files_lookup_fd_rcu(t->files, fd);
		if (f && !get_file_rcu(f))
			f = NULL;
		rcu_read_unlock();
	}
	task_unlock(t);
	if (!f)
		return -EBADF;
	if (!kcr_is_pipe(f) || (f->f_mode & FMODE_PATH)) {
		fput(f);
		return -EINVAL;
	}
	pipe = f->private_data;
	*readers = READ_ONCE(pipe->readers);
	*writers = READ_ONCE(pipe->writers);
	fput(f);
	return 0;
}
