// SPDX-License-Identifier: GPL-2.0
/*
 * kcr: restore orchestration.
 *
 * The calling process becomes the restored one (BLCR's overlay model). In
 * order:
 *   1. load the image and check everything — header, checksums, kernel build,
 *      CPU, registers, signals, mappings, mapped files, page table — while
 *      nothing of the caller has been touched; any problem returns an error
 *      and the caller carries on as before;
 *   2. point of no return: replace the address space, signal and thread
 *      state; a failure here kills the caller (no half-restored process may
 *      ever run);
 *   3. a helper kernel thread sets the registers; the ioctl then returns
 *      into the restored program.
 * Credentials are never taken from the image: the caller keeps its own.
 * Open files, cwd, umask and limits are restored by libkcr before this call.
 */
#include <linux/fs.h>
#include <linux/file.h>
#include <linux/fdtable.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/mm.h>
#include <linux/uaccess.h>
#include <linux/utsname.h>
#include <linux/string.h>
#include <linux/slab.h>
#include <linux/cred.h>
#include <linux/seccomp.h>
#include <linux/sched/coredump.h>
#include "kcr_internal.h"

static int kcr_build_check(const struct kcr_image_header *h, struct kcr_reason *why)
{
	u64 ours = kcr_cpu_xfeatures();

	/* The vdso and the regset layouts are tied to the exact kernel build. */
	if (strcmp(h->release, utsname()->release) || strcmp(h->kversion, utsname()->version)) {
		kcr_set_reason(why, "image was taken on kernel %s (%s); this is %s (%s)",
			       h->release, h->kversion, utsname()->release, utsname()->version);
		return -EXDEV;
	}
	if ((h->xfeatures & ours) != h->xfeatures) {
		kcr_set_reason(why, "image uses CPU features %#llx this CPU lacks (has %#llx)",
			       h->xfeatures, ours);
		return -EXDEV;
	}
	return 0;
}

static int kcr_restorer_check(struct kcr_reason *why)
{
	/*
	 * The module maps and fills memory for the restorer with its own
	 * calls, which a seccomp filter of the restorer would never see.
	 */
	if (READ_ONCE(current->seccomp.mode) != SECCOMP_MODE_DISABLED) {
		kcr_set_reason(why,
			       "the restoring process runs under seccomp, whose filter could not apply to what a restore does; restore from outside the sandbox");
		return -EPERM;
	}
	/*
	 * A vfork child shares its parent's memory, which a restore would
	 * replace. (mm_users is no test: /proc readers hold it transiently.)
	 */
	if (current->vfork_done || test_bit(MMF_MULTIPROCESS, &current->mm->flags)) {
		kcr_set_reason(why,
			       "the restoring process shares its memory with another (vfork, CLONE_VM)");
		return -EBUSY;
	}
	return 0;
}

/* The restorer's memfds, each a memfd; their references are the image's to drop. */
static int kcr_memfds_get(const struct kcr_restore_args *a, struct kcr_loaded_image *img,
			  struct kcr_reason *why)
{
	u32 i;

	if (!a->nr_memfds || (a->flags & KCR_RST_VALIDATE_ONLY))
		return 0;
	img->memfds = kcalloc(a->nr_memfds, sizeof(*img->memfds), GFP_KERNEL);
	img->memfd_fds = kcalloc(a->nr_memfds, sizeof(*img->memfd_fds), GFP_KERNEL);
	if (!img->memfds || !img->memfd_fds)
		return -ENOMEM;
	if (copy_from_user(img->memfd_fds, u64_to_user_ptr(a->memfds),
			   a->nr_memfds * sizeof(*img->memfd_fds)))
		return -EFAULT;
	for (i = 0; i < a->nr_memfds; i++) {
		struct file *f = fget(img->memfd_fds[i]);

		if (!f || !kcr_is_memfd(f)) {
			if (f)
				fput(f);
			kcr_set_reason(why, "the restorer's memfd %u (fd %d) is not a memfd", i,
				       img->memfd_fds[i]);
			return -EBADF;
		}
		img->memfds[img->nr_memfds++] = f;
	}
	return 0;
}

static void kcr_memfds_put(struct kcr_loaded_image *img)
{
	while (img->nr_memfds)
		fput(img->memfds[--img->nr_memfds]);
	kfree(img->memfds);
	kfree(img->memfd_fds);
	img->memfds = NULL;
	img->memfd_fds = NULL;
}

/*
 * The program never had them: fds the restorer made its memfds at, as
 * copied before the restorer's memory (which held the list) was replaced.
 */
static void kcr_memfds_close(const struct kcr_loaded_image *img)
{
	u32 i;

	for (i = 0; i < img->nr_memfds; i++)
		close_fd(img->memfd_fds[i]);
}

static int kcr_restore_validate(const struct kcr_restore_args *a, struct kcr_loaded_image *img,
				struct file *f, bool dry_run, const struct kcr_range *prefilled,
				u32 nr_prefilled, struct kcr_reason *why)
{
	int err;

	err = kcr_image_load(img, f, why);
	img->prefilled = prefilled;
	img->nr_prefilled = nr_prefilled;
	if (!err)
		err = kcr_memfds_get(a, img, why);
	if (!err)
		err = kcr_build_check(&img->hdr, why);
	if (!err)
		err = kcr_thread_validate(img, why);
	if (!err)
		err = kcr_signal_validate(img, why);
	if (!err)
		err = kcr_mm_validate(img, dry_run, why);
	return err;
}

/* Every restore, refused or not, is logged for the admin, as checkpoints are. */
static void kcr_log_restore(struct file *f, const struct kcr_loaded_image *img, int err,
			    const char *reason)
{
	char *buf = kmalloc(PATH_MAX, GFP_KERNEL);
	char *image = buf ? file_path(f, buf, PATH_MAX) : ERR_PTR(-ENOMEM);
	char unnamed[] = "(unnamed)", comm[sizeof(img->hdr.comm)], why[KCR_REASON_LEN];
	uid_t uid = from_kuid(&init_user_ns, current_uid());

	if (IS_ERR(image))
		image = unnamed;
	kcr_log_copy(image, strlen(image) + 1, image);
	if (err) {
		kcr_log_copy(why, sizeof(why), reason);
		pr_info_ratelimited("kcr: restore by pid %d (uid %u) from %s refused (%d): %s\n",
				    task_pid_nr(current), uid, image, err, why);
	} else {
		kcr_log_copy(comm, sizeof(comm), img->hdr.comm);
		pr_info("kcr: restore by pid %d (uid %u) from %s: %s (pid %d, uid %u in the image)\n",
			task_pid_nr(current), uid, image, comm, img->hdr.pid, img->hdr.uid);
	}
	kfree(buf);
}

static int kcr_restore_image(struct kcr_restore_args *a, struct file *f,
			     const struct kcr_range *prefilled)
{
	struct kcr_reason *why = kcr_reason_of(a->reason);
	struct kcr_restore_group *group = NULL;
	struct kcr_rax_fixup *fix = NULL;
	struct kcr_loaded_image img;
	const struct kcr_thread *th;
	int err;

	/* A dry run copies no ranges (prefilled is NULL): it must see none. */
	err = kcr_restore_validate(a, &img, f, a->flags & KCR_RST_VALIDATE_ONLY, prefilled,
				   prefilled ? a->nr_prefilled : 0, why);
	if (err || (a->flags & KCR_RST_VALIDATE_ONLY))
		goto out;
	th = kcr_thread_record(&img, 0);
	fix = kcr_rax_fixup_alloc();
	if (!fix) {
		err = -ENOMEM;
		goto out;
	}
	/* The restorer's other threads, one for each of the image's: the last check. */
	err = kcr_restore_group_gather(&img, &group, why);
	if (err)
		goto out;
	kcr_log_restore(f, &img, 0, NULL);

	/* ---- point of no return ---- */
	err = kcr_mm_restore(&img, why);
	if (err)
		goto die;
	kcr_signal_restore_process(&img);
	kcr_signal_restore_thread(th);
	kcr_thread_restore(th);
	/* The restored program never had these descriptors. */
	close_fd(a->image_fd);
	if (a->device_fd != a->image_fd)
		close_fd(a->device_fd);
	kcr_memfds_close(&img);
	/* Each other thread takes its record; they are done with the image on return. */
	kcr_restore_group_go(group, &img);
	group = NULL;
	err = kcr_rax_fixup_queue(fix, th);
	if (err)
		goto die;
	fix = NULL;
	err = kcr_cpu_restore(th, th + 1);
	if (err) {
		kcr_set_reason(why, "setting the registers failed (%d)", err);
		goto die;
	}
	pr_debug("kcr: restored %s (pid %d in the image, %u threads) as pid %d\n", th->comm,
		 img.hdr.pid, kcr_thread_count(&img), task_pid_nr(current));
	kcr_mm_plan_free(&img);
	kcr_memfds_put(&img);
	kcr_image_free(&img);
	return 0;
die:
	pr_err("kcr: restore of pid %d failed after the point of no return: %s\n",
	       task_pid_nr(current), why->text);
	/* The whole thread group: no half-restored program may ever run. */
	send_sig(SIGKILL, current, 1);
out:
	kcr_restore_group_cancel(group);
	if (err && !fatal_signal_pending(current))
		kcr_log_restore(f, &img, err, why->text);
	kcr_rax_fixup_free(fix);
	kcr_mm_plan_free(&img);
	kcr_memfds_put(&img);
	kcr_image_free(&img);
	return err;
}

static struct kcr_range *kcr_prefilled_copy(const struct kcr_restore_args *a)
{
	struct kcr_range *r;

	if (!a->nr_prefilled || (a->flags & KCR_RST_VALIDATE_ONLY))
		return NULL;
	r = kvmalloc_array(a->nr_prefilled, sizeof(*r), GFP_KERNEL);
	if (!r)
		return ERR_PTR(-ENOMEM);
	if (copy_from_user(r, u64_to_user_ptr(a->prefilled),
			   array_size(a->nr_prefilled, sizeof(*r)))) {
		kvfree(r);
		return ERR_PTR(-EFAULT);
	}
	return r;
}

long kcr_ioctl_restore(struct kcr_restore_args __user *uarg)
{
	struct kcr_restore_args a;
	struct kcr_range *prefilled;
	struct kcr_reason *why;
	struct file *f;
	int err;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.size != sizeof(a) || (a.flags & ~KCR_RST_FLAGS_ALL) || a.pad || a.pad2 ||
	    a.nr_prefilled > KCR_MAX_PREFILLED || a.nr_memfds > KCR_MAX_MEMFDS)
		return -EINVAL;
	memset(a.reason, 0, sizeof(a.reason));
	why = kcr_reason_of(a.reason);
	err = kcr_restorer_check(why);
	if (err)
		goto refused;
	f = fget(a.image_fd);
	if (!f || !(f->f_mode & FMODE_READ) || !S_ISREG(file_inode(f)->i_mode)) {
		kcr_set_reason(why, "image descriptor is not a readable regular file");
		if (f)
			fput(f);
		err = -EBADF;
		goto refused;
	}
	prefilled = kcr_prefilled_copy(&a);
	if (IS_ERR(prefilled)) {
		fput(f);
		return PTR_ERR(prefilled);
	}
	err = kcr_restore_image(&a, f, prefilled);
	kvfree(prefilled);
	fput(f);
	if (!err)
		return 0; /* rax itself is restored by kcr_rax_fixup_run() */
	/* Past the point of no return the caller is being killed; its memory is gone. */
	if (fatal_signal_pending(current))
		return err;
refused:
	if (copy_to_user(uarg, &a, sizeof(a)))
		return -EFAULT;
	return err;
}
