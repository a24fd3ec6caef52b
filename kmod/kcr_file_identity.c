// SPDX-License-Identifier: GPL-2.0
/*
 * kcr: what a mapped file is, so that a restore on another node accepts
 * its own copy of the program and its libraries and refuses another file.
 *
 * Dump: for each file mapping, the file's modification time and its GNU
 * build-id (the ELF note the linker writes) or, for a file without one, a
 * checksum of its contents, sampled beyond KCR_FILE_CHECKSUM_MAX (the
 * FILE_IDS section): read outside the target's mmap_lock, once per file,
 * and no more than KCR_FILE_HASH_BUDGET bytes per checkpoint. Restore: the
 * file at the mapping's path is the program's when its size and
 * modification time are the recorded ones, and it is the same inode or has
 * the same build-id or contents; what differs is named. A file the program
 * maps shared and writable is its data, not its code: it changes as the
 * program runs, and only the very file (its inode, its size) will do.
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

/* The bytes a checksum of a file of `size` bytes reads. */
static u64 kcr_checksum_bytes(u64 size)
{
	return size <= KCR_FILE_CHECKSUM_MAX ? size : (u64)KCR_FILE_SAMPLES * KCR_FILE_SAMPLE_BYTES;
}

/*
 * xxh64 of a file of `size` bytes: of all of it up to KCR_FILE_CHECKSUM_MAX,
 * else of KCR_FILE_SAMPLES pieces from its start to its end (a locale
 * archive of hundreds of MiB, glibc maps whole), *flags saying which.
 */
static int kcr_file_checksum(const struct kcr_writer *w, struct file *f, u64 size, u64 *sum,
			     u32 *flags)
{
	const bool sampled = size > KCR_FILE_CHECKSUM_MAX;
	const u64 step = sampled ? div_u64(size - KCR_FILE_SAMPLE_BYTES, KCR_FILE_SAMPLES - 1) : 0;
	struct xxh64_state state;
	u64 done = 0, piece = 0;
	void *buf;
	int err = 0;

	buf = kvmalloc(KCR_CHECKSUM_CHUNK, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	xxh64_reset(&state, 0);
	while (!err && (sampled ? piece < KCR_FILE_SAMPLES : done < size)) {
		u64 pos = sampled ? piece * step : done;
		size_t len = sampled ? KCR_FILE_SAMPLE_BYTES :
				       min_t(u64, KCR_CHECKSUM_CHUNK, size - done);

		if (fatal_signal_pending(current) || (w && kcr_writer_aborted(w)))
			err = -EINTR;
		else
			err = kcr_read_at(f, buf, len, pos);
		if (!err)
			xxh64_update(&state, buf, len);
		done += len;
		piece++;
		cond_resched();
	}
	kvfree(buf);
	*sum = xxh64_digest(&state);
	*flags = sampled ? KCR_FILE_ID_SAMPLED : KCR_FILE_ID_CHECKSUM;
	return err;
}

bool kcr_file_identity_writes(const struct kcr_vma *v)
{
	return v->kind == KCR_VMA_FILE_SHARED && (v->vm_flags & (VM_WRITE | VM_MAYWRITE));
}

static s64 kcr_mtime_ns(const struct inode *inode)
{
	struct timespec64 t = inode->i_mtime;

	return timespec64_to_ns(&t);
}

/* Whether the module reads the file's contents: a regular file read as usual. */
static bool kcr_file_readable(struct file *f)
{
	return S_ISREG(file_inode(f)->i_mode) && (f->f_mode & FMODE_READ) &&
	       !(f->f_flags & O_DIRECT);
}

int kcr_file_identity_dump(const struct kcr_writer *w, struct file *f, const struct kcr_vma *v,
			   u64 *budget, struct kcr_file_identity *id)
{
	u64 bytes = kcr_checksum_bytes(v->file_size);
	u32 flags;
	int err;

	memset(id, 0, sizeof(*id));
	id->mtime_ns = kcr_mtime_ns(file_inode(f));
	if (!kcr_file_readable(f) || kcr_file_identity_writes(v))
		return 0;
	if (kcr_build_id(f, id)) {
		id->flags = KCR_FILE_ID_BUILD_ID;
		return 0;
	}
	if (bytes > *budget)
		return 0;
	*budget -= bytes;
	err = kcr_file_checksum(w, f, v->file_size, &id->checksum, &flags);
	if (err == -EINTR)
		return err;
	if (err)
		id->checksum = 0; /* unread: the inode alone will say */
	else
		id->flags = flags;
	return 0;
}

int kcr_file_identity_valid(const struct kcr_file_identity *id)
{
	u32 kind = id->flags & (KCR_FILE_ID_BUILD_ID | KCR_FILE_ID_CHECKSUM | KCR_FILE_ID_SAMPLED);

	if (id->flags != kind || hweight32(kind) > 1 || id->build_id_len > KCR_BUILD_ID_MAX ||
	    !!(kind & KCR_FILE_ID_BUILD_ID) != !!id->build_id_len ||
	    (!(kind & (KCR_FILE_ID_CHECKSUM | KCR_FILE_ID_SAMPLED)) && id->checksum))
		return -EBADMSG;
	return 0;
}

/* "1796293917.608000000" of a time in ns, into buf. */
static const char *kcr_time_text(s64 ns, char *buf, size_t len)
{
	u64 abs = ns < 0 ? -(u64)ns : ns;
	u32 rem;
	u64 sec = div_u64_rem(abs, NSEC_PER_SEC, &rem);

	snprintf(buf, len, "%s%llu.%09u", ns < 0 ? "-" : "", sec, rem);
	return buf;
}

int kcr_file_identity_check(struct file *f, const char *path, const struct kcr_vma *v,
			    const struct kcr_file_identity *id, struct kcr_reason *why)
{
	struct inode *inode = file_inode(f);
	u64 size = i_size_read(inode);
	s64 mtime = kcr_mtime_ns(inode);
	struct kcr_file_identity now = {};
	char now_text[24], had_text[24];
	u32 flags;
	u64 sum;
	int err;

	if (size != v->file_size) {
		kcr_set_reason(why, "mapped file %s is not the program's: %llu bytes, it had %llu",
			       path, size, v->file_size);
		return -ESTALE;
	}
	if (!id || kcr_file_identity_writes(v)) {
		/* The program's data, or an image from before FILE_IDS. */
		if (inode->i_ino == v->ino)
			return 0;
		kcr_set_reason(why, "mapped file %s changed since the checkpoint (another inode)",
			       path);
		return -ESTALE;
	}
	if (mtime != id->mtime_ns) {
		kcr_set_reason(why,
			       "mapped file %s is not the program's: modified at %s, it had %s (a copy must keep its time: cp -p, install -p)",
			       path, kcr_time_text(mtime, now_text, sizeof(now_text)),
			       kcr_time_text(id->mtime_ns, had_text, sizeof(had_text)));
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
	if (id->flags & (KCR_FILE_ID_CHECKSUM | KCR_FILE_ID_SAMPLED)) {
		if (!kcr_file_readable(f)) {
			kcr_set_reason(why, "mapped file %s cannot be read to compare it", path);
			return -ESTALE;
		}
		err = kcr_file_checksum(NULL, f, size, &sum, &flags);
		if (err == -EINTR) {
			kcr_set_reason(why, "the restore was interrupted");
			return err;
		}
		if (err) {
			kcr_set_reason(why,
				       "mapped file %s cannot be read to compare it (error %d)",
				       path, err);
			return err;
		}
		if (sum == id->checksum && flags == id->flags)
			return 0;
		kcr_set_reason(why, "mapped file %s is not the program's: its contents differ",
			       path);
		return -ESTALE;
	}
	kcr_set_reason(why,
		       "mapped file %s is another file than the program's (another inode), and the checkpoint could not read it to compare",
		       path);
	return -ESTALE;
}
