// SPDX-License-Identifier: GPL-2.0
/*
 * kcr: kernel checkpoint/restart of Linux processes.
 *
 * This file registers /dev/kcr and dispatches its ioctls. The device is
 * world-accessible by default: who may checkpoint what is decided per
 * request, by ptrace's rule (kcr_access.c). A site that wants fewer users
 * to reach the module at all sets dev_mode (e.g. 0600: root only) or gives
 * the device to a group with a udev rule (docs/admin-guide.md).
 */
#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/uaccess.h>
#include <linux/utsname.h>
#include <linux/string.h>
#include <linux/bug.h>
#include <asm/user.h>
#include "kcr_internal.h"

static long kcr_ioctl_version(struct kcr_version __user *uarg)
{
	struct kcr_version v;

	memset(&v, 0, sizeof(v));
	v.abi_version = KCR_ABI_VERSION;
	v.image_version = KCR_IMAGE_VERSION;
	v.xstate_size = kcr_cpu_xstate_size(current);
	v.regs_size = sizeof(struct user_regs_struct);
	v.xfeatures = kcr_cpu_xfeatures();
	strscpy(v.release, utsname()->release, sizeof(v.release));
	strscpy(v.kversion, utsname()->version, sizeof(v.kversion));
	return copy_to_user(uarg, &v, sizeof(v)) ? -EFAULT : 0;
}

#ifdef KCR_TEST_HOOKS
/* Proves that the test harness fails a run whose kernel WARNs. */
static long kcr_ioctl_test_warn(void)
{
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	WARN(1, "kcr: test hook: deliberate warning\n");
	return 0;
}
#endif

static long kcr_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case KCR_IOC_VERSION:
		return kcr_ioctl_version(uarg);
	case KCR_IOC_CHECKPOINT:
		return kcr_ioctl_checkpoint(uarg);
	case KCR_IOC_RESTORE:
		return kcr_ioctl_restore(uarg);
	case KCR_IOC_RESTORE_THREAD:
		return kcr_ioctl_restore_thread(uarg);
#ifdef KCR_TEST_HOOKS
	case KCR_IOC_TEST_WARN:
		return kcr_ioctl_test_warn();
#endif
	}
	return -ENOTTY;
}

static const struct file_operations kcr_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = kcr_ioctl,
	.compat_ioctl = NULL, /* 32-bit processes are not supported */
};

static ushort dev_mode = 0666;
module_param(dev_mode, ushort, 0444);
MODULE_PARM_DESC(dev_mode, "mode of /dev/kcr (default 0666; 0600: only root may use kcr)");

static struct miscdevice kcr_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kcr",
	.fops = &kcr_fops,
};

static int __init kcr_init(void)
{
	int err;

	kcr_dev.mode = dev_mode & 0666;
	err = misc_register(&kcr_dev);

	if (err)
		return err;
	pr_info("kcr: loaded, ABI %d, image format %d, /dev/kcr mode %#o\n", KCR_ABI_VERSION,
		KCR_IMAGE_VERSION, kcr_dev.mode);
	return 0;
}

static void __exit kcr_exit(void)
{
	misc_deregister(&kcr_dev);
	pr_info("kcr: unloaded\n");
}

module_init(kcr_init);
module_exit(kcr_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kcr: kernel-level checkpoint/restart of processes");
MODULE_VERSION("0.1");
