// SPDX-License-Identifier: GPL-2.0
/*
 * kcr: holding a checkpointed process parked (KCR_CKPT_HOLD).
 *
 * A hold is a file: while any copy of it is open the process stays parked
 * in the kernel, where only SIGKILL reaches it (a SIGCONT cannot resume it,
 * as it would a stopped one). Its last close — also the holder's exit —
 * lets the process run on, so a holder that dies never leaves it parked for
 * good. KCR_IOC_HOLD_KILL on the file kills that very process, whatever
 * became of its pid; KCR_IOC_HOLD_PIPE tells how many open files a pipe of
 * it has now (a tree's checkpoint, libkcr). A held process is on a list so that a second
 * checkpoint of it can be refused.
 *
 * What "run on" means is the checkpoint's business: it hands in a
 * struct kcr_hold with operations to keep and to release its request.
 */
#include <linux/fs.h>
#include <linux/file.h>
#include <linux/anon_inodes.h>
#include <linux/list.h>
#include <linux/sched/signal.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include "kcr_internal.h"

static DEFINE_SPINLOCK(kcr_held_lock);
static LIST_HEAD(kcr_held);

bool kcr_is_held(struct task_struct *t)
{
	struct kcr_hold *h;
	bool held = false;

	spin_lock(&kcr_held_lock);
	list_for_each_entry(h, &kcr_held, node)
		held |= h->task == t;
	spin_unlock(&kcr_held_lock);
	return held;
}

static int kcr_hold_release(struct inode *inode, struct file *file)
{
	struct kcr_hold *h = file->private_data;

	spin_lock(&kcr_held_lock);
	list_del(&h->node);
	spin_unlock(&kcr_held_lock);
	h->ops->release(h);
	return 0;
}

static long kcr_hold_pipe(struct kcr_hold *h, struct kcr_hold_pipe __user *uarg)
{
	struct kcr_hold_pipe a;
	int err;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.fd < 0 || a.pad)
		return -EINVAL;
	err = kcr_task_pipe_counts(h->task, a.fd, &a.readers, &a.writers);
	if (err)
		return err;
	return copy_to_user(uarg, &a, sizeof(a)) ? -EFAULT : 0;
}

static long kcr_hold_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct kcr_hold *h = file->private_data;

	switch (cmd) {
	case KCR_IOC_HOLD_KILL:
		send_sig(SIGKILL, h->task, 1);
		return 0;
	case KCR_IOC_HOLD_PIPE:
		return kcr_hold_pipe(h, (struct kcr_hold_pipe __user *)arg);
	}
	return -ENOTTY;
}

static const struct file_operations kcr_hold_fops = {
	.owner = THIS_MODULE,
	.release = kcr_hold_release,
	.unlocked_ioctl = kcr_hold_ioctl,
	.llseek = noop_llseek,
};

struct file *kcr_hold_file(struct kcr_hold *h)
{
	struct file *f;

	h->ops->get(h);
	/* Close-on-exec comes from the descriptor slot (get_unused_fd_flags). */
	f = anon_inode_getfile("[kcr-hold]", &kcr_hold_fops, h, O_RDONLY);
	if (IS_ERR(f)) {
		h->ops->put(h);
		return f;
	}
	spin_lock(&kcr_held_lock);
	list_add(&h->node, &kcr_held);
	spin_unlock(&kcr_held_lock);
	return f;
}
