// SPDX-License-Identifier: GPL-2.0
/*
 * kcr: what a mapped file is, so that a restore on another node accepts
 * its own copy of the program and its libraries and refuses another file.
 *
 * Dump: for each file mapping, the file's modification time and its GNU
 * build-id (the ELF note the linker writes) or, for a file without one of
 * at most KCR_FILE_CHECKSUM_MAX bytes, a checksum of its contents (the
 * FILE_IDS section). Restore: the file at the mapping's path is the
 * program's when its size and modification time are the recorded ones,
 * and it is the same inode or has the same build-id or contents; what
 * differs is named. A file the program maps shared and writable is its
 * data, not its code: it changes as the program runs, and only the very
 * file (its inode, its size) will do.
 */
#include <linux/elf.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/xxhash.h>
#include "kcr_internal.h"

/* Bounds on what the build-id search reads of a file nobody vouches for. */
#define KCR_ELF_MAX_PHDRS 64
#define KCR_NOTE_MAX_BYTES 4096
#define KCR_CHECKSUM_CHUNK (256 * 1024)
/* NT_GNU_BUILD_ID of user space's elf.h, which 6.1's kernel headers lack */
#define KCR_NT_GNU_BUILD_ID 3

static int kcr_read_at(struct file *f, void *buf, size_t len, loff_t pos)
{
	ssize_t n = kernel_read(f, buf, len, &pos);

	if (n < 0)
		return (int)n;
	return n == len ? 0 : -ENODATA;
}

/* The build-id in one PT_NOTE segment's notes, if there is one there. */
static bool kcr_note_build_id(const u8 *notes, size_t size, struct kcr_file_identity *id)
{
	size_t pos = 0;

	while (size - pos >= sizeof(struct elf64_note)) {
		const struct elf64_note *n = (const struct elf64_note *)(notes + pos);
		size_t name = ALIGN((size_t)n->n_namesz, 4), desc = ALIGN((size_t)n->n_descsz, 4);

		pos += sizeof(*n);
		if (name > size - pos || desc > size - pos - name)
			return false;
		if (n->n_type == KCR_NT_GNU_BUILD_ID && n->n_namesz == sizeof("GNU") &&
		    !memcmp(notes + pos, "GNU", sizeof("GNU")) && n->n_descsz &&
		    n->n_descsz <= KCR_BUILD_ID_MAX) {
			memcpy(id->build_id, notes + pos + name, n->n_descsz);
			id->build_id_len = n->n_descsz;
			return true;
		}
		pos += name + desc;
	}
	return false;
}

/* The file's GNU build-id, from its program headers' notes; false if none. */
static bool kcr_build_id(struct file *f, struct kcr_file_identity *id)
{
	struct elf64_hdr eh;
	struct elf64_phdr *ph = NULL;
	u8 *notes = NULL;
	bool found = false;
	u16 i;

	if (kcr_read_at(f, &eh, sizeof(eh), 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(*ph) || !eh.e_phnum ||
	    eh.e_phnum > KCR_ELF_MAX_PHDRS)
		return false;
	ph = kmalloc_array(eh.e_phnum, sizeof(*ph), GFP_KERNEL);
	notes = kmalloc(KCR_NOTE_MAX_BYTES, GFP_KERNEL);
	if (!ph || !notes ||
	    kcr_read_at(f, ph, eh.e_phnum * sizeof(*ph), (loff_t)min_t(u64, eh.e_phoff, S64_MAX)))
		goto out;
	for (i = 0; i < eh.e_phnum && !found; i++) {
		if (ph[i].p_type != PT_NOTE || !ph[i].p_filesz ||
		    ph[i].p_filesz > KCR_NOTE_MAX_BYTES || ph[i].p_offset > S64_MAX)
			continue;
		if (kcr_read_at(f, notes, ph[i].p_filesz, (loff_t)ph[i].p_offset))
			continue;
		found = kcr_note_build_id(notes, ph[i].p_filesz, id);
	}
out:
	kfree(notes);
	kfree(ph);
	return found;
}

/* xxh64 of the whole file of `size` bytes. */
static int kcr_file_checksum(struct file *f, u64 size, u64 *sum)
{
	struct xxh64_state state;
	loff_t pos = 0;
	void *buf;
	int err = 0;

	buf = kvmalloc(KCR_CHECKSUM_CHUNK, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	xxh64_reset(&state, 0);
	while (pos < size && !err) {
		size_t len = min_t(u64, KCR_CHECKSUM_CHUNK, size - pos);

		if (fatal_signal_pending(current))
			err = -EINTR;
		else
			err = kcr_read_at(f, buf, len, pos);
		if (!err)
			xxh64_update(&state, buf, len);
		pos += len;
		cond_resched();
	}
	kvfree(buf);
	*sum = xxh64_digest(&state);
	return err;
}

static bool kcr_vma_writes_file(const struct kcr_vma *v)
{
	return v->kind == KCR_VMA_FILE_SHARED && (v->vm_flags & (VM_WRITE | VM_MAYWRITE));
}

static s64 kcr_mtime_ns(const struct inode *inode)
{
	struct timespec64 t = inode->i_mtime;

	return timespec64_to_ns(&t);
}

int kcr_file_identity_dump(struct file *f, const struct kcr_vma *v, struct kcr_file_identity *id)
{
	u64 size = i_size_read(file_inode(f));

	memset(id, 0, sizeof(*id));
	id->mtime_ns = kcr_mtime_ns(file_inode(f));
	if (!(f->f_mode & FMODE_READ) || kcr_vma_writes_file(v))
		return 0;
	if (kcr_build_id(f, id)) {
		id->flags = KCR_FILE_ID_BUILD_ID;
		return 0;
	}
	if (size > KCR_FILE_CHECKSUM_MAX)
		return 0;
	if (kcr_file_checksum(f, size, &id->checksum) == -EINTR)
		return -EINTR;
	id->flags = KCR_FILE_ID_CHECKSUM;
	return 0;
}

int kcr_file_identity_valid(const struct kcr_file_identity *id)
{
	if (id->flags & ~(KCR_FILE_ID_BUILD_ID | KCR_FILE_ID_CHECKSUM) ||
	    id->flags == (KCR_FILE_ID_BUILD_ID | KCR_FILE_ID_CHECKSUM) ||
	    id->build_id_len > KCR_BUILD_ID_MAX ||
	    !!(id->flags & KCR_FILE_ID_BUILD_ID) != !!id->build_id_len ||
	    (!(id->flags & KCR_FILE_ID_CHECKSUM) && id->checksum))
		return -EBADMSG;
	return 0;
}

int kcr_file_identity_check(struct file *f, const char *path, const struct kcr_vma *v,
			    const struct kcr_file_identity *id, struct kcr_reason *why)
{
	struct inode *inode = file_inode(f);
	u64 size = i_size_read(inode);
	s64 mtime = kcr_mtime_ns(inode);
	struct kcr_file_identity now = {};
	s32 nsec, had_nsec;
	u64 sum;
	int err;

	if (size != v->file_size) {
		kcr_set_reason(why, "mapped file %s is not the program's: %llu bytes, it had %llu",
			       path, size, v->file_size);
		return -ESTALE;
	}
	if (!id || kcr_vma_writes_file(v)) {
		/* The program's data, or an image from before FILE_IDS. */
		if (inode->i_ino == v->ino)
			return 0;
		kcr_set_reason(why, "mapped file %s changed since the checkpoint (another inode)",
			       path);
		return -ESTALE;
	}
	if (mtime != id->mtime_ns) {
		s64 sec = div_s64_rem(mtime, NSEC_PER_SEC, &nsec);
		s64 had = div_s64_rem(id->mtime_ns, NSEC_PER_SEC, &had_nsec);

		kcr_set_reason(why,
			       "mapped file %s is not the program's: modified at %lld.%09d, it had %lld.%09d (a copy must keep its time: cp -p, install -p)",
			       path, sec, nsec, had, had_nsec);
		return -ESTALE;
	}
	if (inode->i_ino == v->ino)
		return 0;
	/* Another inode: a copy, the same only if its contents say so. */
	if (id->flags & KCR_FILE_ID_BUILD_ID) {
		if (kcr_build_id(f, &now) && now.build_id_len == id->build_id_len &&
		    !memcmp(now.build_id, id->build_id, id->build_id_len))
			return 0;
		kcr_set_reason(why,
			       "mapped file %s is not the program's: its build-id differs (rebuilt?)",
			       path);
		return -ESTALE;
	}
	if (id->flags & KCR_FILE_ID_CHECKSUM) {
		err = kcr_file_checksum(f, size, &sum);
		if (err == -EINTR)
			return err;
		if (!err && sum == id->checksum)
			return 0;
		kcr_set_reason(why, "mapped file %s is not the program's: its contents differ",
			       path);
		return -ESTALE;
	}
	kcr_set_reason(why,
		       "mapped file %s is another file than the program's (another inode), too large to compare and without a build-id",
		       path);
	return -ESTALE;
}
