// SPDX-License-Identifier: GPL-2.0
/*
 * kcr: who may checkpoint what — ptrace's rule, and who may have the image.
 *
 * A checkpoint reads everything a debugger attached with ptrace could, so
 * only a caller that could attach may take one. The kernel's own check
 * (ptrace_may_access: ids, dumpability, capabilities in the target's user
 * namespace, Yama and every other LSM) is not exported to modules, so the
 * caller proves it passed that check: it opens the target's /proc/PID/mem,
 * whose open runs it (PTRACE_MODE_ATTACH_FSCREDS), and hands the descriptor
 * over. The module confirms the descriptor names the target's address space.
 *
 * An address space belongs to one program: exec replaces it. The target
 * compares it again when it parks, in its own context, so a set-id program
 * it started after the caller's check is never saved under the old proof.
 *
 * Who may then read the image is a second question: the target's own user
 * only if that user could attach to it, holding no capabilities of its own.
 * Otherwise (set-id programs, processes that made themselves non-dumpable,
 * capabilities) the caller must ask for it explicitly and keeps the image.
 */
#include <linux/fs.h>
#include <linux/file.h>
#include <linux/cred.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/proc_fs.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/coredump.h>
#include <linux/user_namespace.h>
#include "kcr_internal.h"

/* Is f an open /proc/PID/mem (or /proc/PID/task/TID/mem) of the address space mm? */
static bool kcr_is_mem_file_of(struct file *f, struct mm_struct *mm)
{
	struct dentry *d = f->f_path.dentry;

	/*
	 * proc's mem_open() keeps the mm it checked in private_data (and
	 * mmgrab()s it, so the pointer cannot be reused while f is open).
	 */
	return d->d_sb->s_magic == PROC_SUPER_MAGIC && !strcmp(d->d_name.name, "mem") && mm &&
	       f->private_data == mm;
}

/*
 * A /proc/PID/mem of the target itself, opened before it started a new
 * program (exec): a race with a process that had just forked, worth a retry
 * with a fresh proof, unlike a descriptor of something else.
 */
static bool kcr_is_stale_mem_file_of(struct file *f, struct task_struct *t)
{
	struct dentry *d = f->f_path.dentry;
	struct dentry *dir;
	int nr;
	bool same = false;

	if (d->d_sb->s_magic != PROC_SUPER_MAGIC || strcmp(d->d_name.name, "mem"))
		return false;
	dir = dget_parent(d);
	if (!kstrtoint(dir->d_name.name, 10, &nr))
		same = nr == task_tgid_nr_ns(t, proc_pid_ns(d->d_sb));
	dput(dir);
	return same;
}

/*
 * The proof must be the caller's own: opened with the same file-system ids
 * in the same user namespace, for reading. A descriptor another user opened
 * and passed on (SCM_RIGHTS, inheritance) proves nothing about this caller.
 */
static bool kcr_opened_by_caller(const struct file *f)
{
	const struct cred *mine = current_cred(), *theirs = f->f_cred;

	return (f->f_mode & FMODE_READ) && theirs->user_ns == mine->user_ns &&
	       uid_eq(theirs->fsuid, mine->fsuid) && gid_eq(theirs->fsgid, mine->fsgid);
}

struct file *kcr_access_proof(int fd, struct task_struct *t, struct kcr_reason *why)
{
	struct file *f = fget(fd);
	bool ok;

	if (!f) {
		kcr_set_reason(why,
			       "no proof of ptrace access: pass the target's /proc/%d/mem as access_fd (libkcr does)",
			       task_pid_vnr(t));
		return ERR_PTR(-EPERM);
	}
	task_lock(t);
	ok = kcr_is_mem_file_of(f, t->mm);
	task_unlock(t);
	if (ok && !kcr_opened_by_caller(f)) {
		fput(f);
		kcr_set_reason(why,
			       "the access descriptor was opened by someone else (or not for reading): open /proc/%d/mem yourself",
			       task_pid_vnr(t));
		return ERR_PTR(-EPERM);
	}
	if (!ok && kcr_is_stale_mem_file_of(f, t)) {
		fput(f);
		kcr_set_reason(why,
			       "process %d started a new program (exec) since its /proc/PID/mem was opened; retry",
			       task_pid_vnr(t));
		return ERR_PTR(-EAGAIN);
	}
	if (!ok) {
		fput(f);
		kcr_set_reason(why, "the access descriptor is not process %d's /proc/PID/mem",
			       task_pid_vnr(t));
		return ERR_PTR(-EPERM);
	}
	return f;
}

/* Runs in the target: true while it still runs the program the proof was made for. */
bool kcr_access_current(struct file *proof)
{
	return kcr_is_mem_file_of(proof, current->mm);
}

/* What ptrace asks before it attaches to a process its user could not: CAP_SYS_PTRACE. */
bool kcr_access_privileged(struct file *proof)
{
	struct mm_struct *mm = proof->private_data;

	return ns_capable(mm->user_ns, CAP_SYS_PTRACE);
}

/*
 * Runs in the target (its credentials cannot change meanwhile). Could its
 * own user, holding no capability, attach to it with ptrace? Then the image
 * holds nothing that user may not read.
 */
bool kcr_owner_may_attach(void)
{
	const struct cred *c = current_cred();
	struct user_namespace *ns;

	if (!uid_eq(c->euid, c->uid) || !uid_eq(c->suid, c->uid) || !gid_eq(c->egid, c->gid) ||
	    !gid_eq(c->sgid, c->gid))
		return false;
	if (!current->mm || get_dumpable(current->mm) != SUID_DUMP_USER)
		return false;
	/*
	 * In the initial user namespace: no capabilities, or root's own
	 * process (root could attach).
	 */
	if (c->user_ns == &init_user_ns)
		return cap_isclear(c->cap_permitted) || uid_eq(c->uid, GLOBAL_ROOT_UID);
	/*
	 * In another one, ptrace asks for CAP_SYS_PTRACE there, which a user
	 * holds only in namespaces it made: every level up to the initial
	 * one must be its own (stricter than cap_capable(), so never wrong
	 * the other way).
	 */
	for (ns = c->user_ns; ns != &init_user_ns; ns = ns->parent)
		if (!uid_eq(ns->owner, c->uid))
			return false;
	return true;
}
