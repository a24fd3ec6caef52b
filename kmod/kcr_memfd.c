// SPDX-License-Identifier: GPL-2.0
/*
 * kcr: memfds (memfd_create), open, mapped, or both.
 *
 * Dump: each memfd the process has open or maps is recorded once, by inode,
 * with its name, seals and whole contents (the MEMFD section); its fds and
 * mappings name it by index. Restore: libkcr makes each memfd again with its
 * name, contents and seals and opens the fds (only user space can place an
 * fd), then hands the memfds to the restore, which maps them where the
 * image's mappings of them were (kcr_memfd_take()).
 */
#include <linux/fs.h>
#include <linux/file.h>
#include <linux/fdtable.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <uapi/linux/fcntl.h>
#include "kcr_internal.h"

/* Contents are saved whole: a bound on what one memfd adds to an image. */
#define KCR_MAX_MEMFD_BYTES (1ULL << 30)

struct kcr_memfds {
	u32 nr;
	struct file *file[KCR_MAX_MEMFDS];
};

struct kcr_memfds *kcr_memfds_alloc(void)
{
	return kzalloc(sizeof(struct kcr_memfds), GFP_KERNEL);
}

void kcr_memfds_free(struct kcr_memfds *m)
{
	u32 i;

	if (!m)
		return;
	for (i = 0; i < m->nr; i++)
		fput(m->file[i]);
	kfree(m);
}

/*
 * A shmem or hugetlbfs file memfd_create() made: named "memfd:..." on the
 * kernel's internal mount, not a file of that name in /dev/shm.
 */
bool kcr_is_memfd(const struct file *f)
{
	const struct dentry *d = f->f_path.dentry;
	unsigned long magic = d->d_sb->s_magic;

	return (magic == TMPFS_MAGIC || magic == HUGETLBFS_MAGIC) &&
	       (f->f_path.mnt->mnt_sb->s_flags & SB_KERNMOUNT) &&
	       !strncmp(d->d_name.name, "memfd:", 6);
}

/* The seals of a shmem memfd; F_SEAL_SEAL alone when sealing was never allowed. */
static u32 kcr_memfd_seals(const struct file *f)
{
	return SHMEM_I(file_inode(f))->seals;
}

/* What a restore could not make again is refused, naming the memfd. */
int kcr_memfd_check(const struct file *f, struct kcr_reason *why)
{
	const char *name = f->f_path.dentry->d_name.name;

	if (file_inode(f)->i_sb->s_magic != TMPFS_MAGIC) {
		kcr_set_reason(why, "%s is a huge-page memfd (MFD_HUGETLB), which kcr cannot save",
			       name);
		return -EOPNOTSUPP;
	}
	if (i_size_read(file_inode(f)) > KCR_MAX_MEMFD_BYTES) {
		kcr_set_reason(why, "%s holds %lld bytes; kcr saves memfds of up to %llu", name,
			       i_size_read(file_inode(f)), KCR_MAX_MEMFD_BYTES);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* Records the memfd f is a view of the first time it is seen; *id names it. */
int kcr_memfd_ref(struct kcr_memfds *m, struct file *f, u32 *id, struct kcr_reason *why)
{
	u32 i;
	int err;

	for (i = 0; i < m->nr; i++) {
		if (file_inode(m->file[i]) == file_inode(f)) {
			*id = i;
			return 0;
		}
	}
	err = kcr_memfd_check(f, why);
	if (err)
		return err;
	if (m->nr == KCR_MAX_MEMFDS) {
		kcr_set_reason(why, "the process has more than %d memfds", KCR_MAX_MEMFDS);
		return -EOPNOTSUPP;
	}
	m->file[m->nr] = get_file(f);
	*id = m->nr++;
	return 0;
}

/*
 * A writable shared mapping of a memfd sealed against writes (it was mapped
 * before F_SEAL_FUTURE_WRITE) could not be mapped again.
 */
int kcr_memfd_vma_check(const struct file *f, bool shared, bool writable, struct kcr_reason *why)
{
	u32 seals = kcr_memfd_seals(f);

	if (shared && ((seals & F_SEAL_WRITE) || (writable && (seals & F_SEAL_FUTURE_WRITE)))) {
		kcr_set_reason(why,
			       "%s is mapped shared but sealed against writes (F_SEAL_WRITE or F_SEAL_FUTURE_WRITE); no mapping like it can be made again",
			       f->f_path.dentry->d_name.name);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* The MEMFD section: each memfd's record, name and contents. */
int kcr_memfds_dump(struct kcr_writer *w, const struct kcr_memfds *m, struct kcr_reason *why)
{
	void *buf;
	u32 i;
	int err = 0;

	if (!m || !m->nr)
		return 0;
	buf = kmalloc(KCR_FILE_COPY_BYTES, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	kcr_section_begin(w, KCR_SEC_MEMFD, true);
	for (i = 0; i < m->nr && !err; i++) {
		struct file *f = m->file[i];
		const char *name = f->f_path.dentry->d_name.name + strlen("memfd:");
		struct kcr_memfd rec = {};
		struct file *reader;

		rec.size = i_size_read(file_inode(f));
		rec.id = i;
		rec.seals = kcr_memfd_seals(f);
		rec.name_len = strnlen(name, KCR_MEMFD_NAME_MAX);
		kcr_section_write(w, &rec, sizeof(rec));
		kcr_section_write_padded(w, name, rec.name_len);
		/* The fd or mapping seen may be write-only; a read-only view of its own. */
		reader = dentry_open(&f->f_path, O_RDONLY | O_LARGEFILE, current_cred());
		if (IS_ERR(reader)) {
			err = PTR_ERR(reader);
			break;
		}
		err = kcr_section_write_file(w, reader, rec.size, buf);
		fput(reader);
		kcr_section_write_padded(w, NULL, rec.size);
	}
	kcr_section_end(w, m->nr);
	kfree(buf);
	if (err)
		kcr_set_reason(why, "saving the contents of a memfd failed (%d)", err);
	return err ? err : w->err;
}

/*
 * Restore: the memfd the restorer made for an image mapping, checked to be
 * one, of the size the mapping's memfd had, and mappable as it was.
 */
int kcr_memfd_take(struct file *const *memfds, u32 nr, const struct kcr_vma *v, struct file **out,
		   struct kcr_reason *why)
{
	struct file *f;
	u64 len = v->end - v->start;

	if (v->memfd_id >= nr) {
		kcr_set_reason(why, "image maps memfd %u at %llx, which the restorer did not make",
			       v->memfd_id, v->start);
		return -EINVAL;
	}
	f = memfds[v->memfd_id];
	if (!kcr_is_memfd(f) || file_inode(f)->i_sb->s_magic != TMPFS_MAGIC ||
	    (f->f_mode & (FMODE_READ | FMODE_WRITE)) != (FMODE_READ | FMODE_WRITE) ||
	    i_size_read(file_inode(f)) != v->file_size) {
		kcr_set_reason(why,
			       "the restorer's memfd %u is not a readable and writable memfd of %llu bytes",
			       v->memfd_id, v->file_size);
		return -EINVAL;
	}
	if (v->pgoff > (MAX_LFS_FILESIZE >> PAGE_SHIFT) ||
	    len > MAX_LFS_FILESIZE - (v->pgoff << PAGE_SHIFT)) {
		kcr_set_reason(why, "image maps memfd %u beyond the largest offset", v->memfd_id);
		return -EOVERFLOW;
	}
	if (kcr_memfd_vma_check(f, v->kind == KCR_VMA_MEMFD_SHARED, v->vm_flags & VM_WRITE, why))
		return -EINVAL;
	*out = get_file(f);
	return 0;
}
