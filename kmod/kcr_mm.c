// SPDX-License-Identifier: GPL-2.0
/*
 * kcr: the address space — mm fields, VMAs and page contents.
 *
 * Dump (writer kthread, target parked): walk the VMAs under mmap_read_lock,
 * record each one, then stream the pages worth saving: non-zero pages of
 * anonymous mappings and the copied-on-write pages of private file
 * mappings. Pages go from the target's page cache straight to the image
 * file through a bio_vec iterator, without a bounce copy.
 *
 * Restore (in the restoring process, inside the ioctl): every file the
 * image maps is opened and checked before the point of no return; then the
 * caller's mappings are unmapped, the image's are mapped with their final
 * protections and filled. Pages of writable mappings are read from the
 * image straight into place; the rest go through FOLL_FORCE writes, since
 * a module cannot call mprotect. Writable private anonymous mappings that
 * libkcr already mapped and filled (on every core, verifying each chunk as
 * it landed) are kept as they are when they match the image exactly.
 */
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/fs.h>
#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/uio.h>
#include <linux/bvec.h>
#include <linux/xxhash.h>
#include <linux/sched/mm.h>
#include <linux/namei.h>
#include <linux/workqueue.h>
#include <linux/completion.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <linux/sched/coredump.h>
#include <linux/cred.h>
#include <linux/auxvec.h>
#include <linux/capability.h>
#include <linux/sched/signal.h>
#include "kcr_internal.h"

struct kcr_vma_rec {
	struct kcr_vma v;
	char *path; /* kmalloc'd, NUL-terminated */
	struct file *file; /* restore: opened and checked before the point of no return */
	bool prefilled; /* restore: the restorer says it mapped and filled this one */
	bool kept; /* restore: and its mapping matched, so it stays as it is */
	/* dump: of a file mapping; restore: its FILE_IDS record, or NULL */
	struct kcr_file_identity id;
	const struct kcr_file_identity *identity;
};

struct kcr_mm_plan {
	struct kcr_mm mm;
	u32 nr;
	struct kcr_vma_rec *vma;
	u64 nr_chunks;
};

static void kcr_vma_recs_free(struct kcr_vma_rec *recs, u32 nr)
{
	u32 i;

	if (!recs)
		return;
	for (i = 0; i < nr; i++) {
		kfree(recs[i].path);
		if (recs[i].file)
			fput(recs[i].file);
	}
	kvfree(recs);
}

static_assert(KCR_VM_READ == VM_READ && KCR_VM_WRITE == VM_WRITE && KCR_VM_EXEC == VM_EXEC &&
	      KCR_VM_SHARED == VM_SHARED && KCR_VM_GROWSDOWN == VM_GROWSDOWN &&
	      KCR_VM_NORESERVE == VM_NORESERVE);
static_assert(KCR_VM_LOCKED == VM_LOCKED && KCR_VM_DONTCOPY == VM_DONTCOPY &&
	      KCR_VM_WIPEONFORK == VM_WIPEONFORK && KCR_VM_DONTDUMP == VM_DONTDUMP &&
	      KCR_VM_HUGEPAGE == VM_HUGEPAGE && KCR_VM_NOHUGEPAGE == VM_NOHUGEPAGE);

/* madvise() flags a restore sets on the mapping it made (as madvise does). */
#define KCR_ADVICE_FLAGS (VM_DONTCOPY | VM_WIPEONFORK | VM_DONTDUMP | VM_HUGEPAGE | VM_NOHUGEPAGE)

static bool kcr_vma_has_pages(u32 kind)
{
	return kind == KCR_VMA_ANON || kind == KCR_VMA_FILE_PRIVATE ||
	       kind == KCR_VMA_SHARED_ANON || kind == KCR_VMA_MEMFD_PRIVATE;
}

/* ------------------------------------------------------------------ dump */

/* MAP_SHARED|MAP_ANONYMOUS is backed by an internal shmem file named "dev/zero". */
static bool kcr_vma_shared_anon(const struct vm_area_struct *vma)
{
	const struct file *f = vma->vm_file;

	return f && (vma->vm_flags & VM_SHARED) && file_inode(f)->i_sb->s_magic == TMPFS_MAGIC &&
	       !strcmp(f->f_path.dentry->d_name.name, "dev/zero");
}

/* A SysV shared memory segment (shmat): shmem files named "SYSV<key>". */
static bool kcr_is_sysv_shm(const struct file *f)
{
	const struct dentry *d = f->f_path.dentry;

	return d->d_sb->s_magic == TMPFS_MAGIC && !strncmp(d->d_name.name, "SYSV", 4);
}

/* A memfd's mapping: the memfd recorded once (kcr_memfd.c), its COW'd pages saved. */
static int kcr_vma_describe_memfd(struct vm_area_struct *vma, struct kcr_vma *v,
				  struct kcr_memfds *memfds, struct kcr_reason *why)
{
	struct file *f = vma->vm_file;
	bool shared = vma->vm_flags & VM_SHARED;
	int err;

	if (!memfds) {
		kcr_set_reason(why,
			       "mapping %lx-%lx is a memfd (memfd_create) in a process tree, which kcr cannot save yet",
			       vma->vm_start, vma->vm_end);
		return -EOPNOTSUPP;
	}
	err = kcr_memfd_ref(memfds, f, &v->memfd_id, why);
	if (!err)
		err = kcr_memfd_vma_check(f, shared, vma->vm_flags & VM_WRITE, why);
	if (err)
		return err;
	v->kind = shared ? KCR_VMA_MEMFD_SHARED : KCR_VMA_MEMFD_PRIVATE;
	v->ino = file_inode(f)->i_ino;
	v->dev = file_inode(f)->i_sb->s_dev;
	v->file_size = i_size_read(file_inode(f));
	return 0;
}

static int kcr_vma_describe(struct vm_area_struct *vma, struct kcr_vma_rec *rec, char *buf,
			    struct kcr_memfds *memfds, struct kcr_reason *why)
{
	struct kcr_vma *v = &rec->v;
	struct file *f = vma->vm_file;

	if (vma->vm_flags & (VM_IO | VM_PFNMAP | VM_MIXEDMAP | VM_HUGETLB)) {
		kcr_set_reason(why, "mapping %lx-%lx is a device or huge-page mapping, not saved",
			       vma->vm_start, vma->vm_end);
		return -EOPNOTSUPP;
	}
	v->start = vma->vm_start;
	v->end = vma->vm_end;
	v->vm_flags = vma->vm_flags;
	v->pgoff = vma->vm_pgoff;
	if (!f) {
		if (vma->vm_flags & VM_SHARED) {
			v->kind = KCR_VMA_SHARED_ANON;
			if (!(vma->vm_flags & VM_WRITE)) {
				kcr_set_reason(why, "read-only shared anonymous mapping %lx-%lx",
					       vma->vm_start, vma->vm_end);
				return -EOPNOTSUPP;
			}
		} else {
			v->kind = KCR_VMA_ANON;
		}
		return 0;
	}
	if (kcr_vma_shared_anon(vma)) {
		v->kind = KCR_VMA_SHARED_ANON;
		if (!(vma->vm_flags & VM_WRITE)) {
			kcr_set_reason(why, "read-only shared anonymous mapping %lx-%lx",
				       vma->vm_start, vma->vm_end);
			return -EOPNOTSUPP;
		}
		return 0;
	}
	if (kcr_is_memfd(f))
		return kcr_vma_describe_memfd(vma, v, memfds, why);
	if (kcr_is_sysv_shm(f)) {
		kcr_set_reason(why,
			       "mapping %lx-%lx is SysV shared memory (shmat), which kcr cannot save yet",
			       vma->vm_start, vma->vm_end);
		return -EOPNOTSUPP;
	}
	if (d_unlinked(f->f_path.dentry)) {
		kcr_set_reason(why, "mapping %lx-%lx maps a deleted file, which kcr cannot save",
			       vma->vm_start, vma->vm_end);
		return -EOPNOTSUPP;
	}
	v->kind = (vma->vm_flags & VM_SHARED) ? KCR_VMA_FILE_SHARED : KCR_VMA_FILE_PRIVATE;
	v->ino = file_inode(f)->i_ino;
	v->dev = file_inode(f)->i_sb->s_dev;
	v->file_size = i_size_read(file_inode(f));
	{
		char *p = file_path(f, buf, PATH_MAX);

		if (IS_ERR(p)) {
			kcr_set_reason(why, "cannot name the file mapped at %lx", vma->vm_start);
			return PTR_ERR(p);
		}
		rec->path = kstrdup(p, GFP_KERNEL);
		if (!rec->path)
			return -ENOMEM;
		v->path_len = strlen(p);
	}
	return 0;
}

static bool kcr_vma_is_file(u32 kind)
{
	return kind == KCR_VMA_FILE_PRIVATE || kind == KCR_VMA_FILE_SHARED;
}

static int kcr_vmas_collect(struct mm_struct *mm, struct kcr_mm_plan *plan,
			    struct kcr_memfds *memfds, struct kcr_reason *why)
{
	struct vm_area_struct *vma;
	unsigned long vdso = (unsigned long)mm->context.vdso;
	char *buf;
	int err = 0;

	VMA_ITERATOR(vmi, mm, 0);

	plan->vma = kvcalloc(mm->map_count, sizeof(*plan->vma), GFP_KERNEL);
	buf = kmalloc(PATH_MAX, GFP_KERNEL);
	if (!plan->vma || !buf) {
		kfree(buf);
		return -ENOMEM;
	}
	for_each_vma(vmi, vma) {
		if (vma->vm_start == vdso) {
			plan->mm.vdso_start = vma->vm_start;
			plan->mm.vdso_end = vma->vm_end;
			continue;
		}
		if (vma->vm_end == vdso && vma->vm_flags & (VM_IO | VM_PFNMAP)) {
			plan->mm.vvar_start = vma->vm_start;
			plan->mm.vvar_end = vma->vm_end;
			continue;
		}
		if (plan->nr >= mm->map_count) {
			err = -EAGAIN;
			break;
		}
		err = kcr_vma_describe(vma, &plan->vma[plan->nr], buf, memfds, why);
		if (err)
			break;
		/* Its identity is read once the target's mmap_lock is dropped. */
		if (kcr_vma_is_file(plan->vma[plan->nr].v.kind))
			plan->vma[plan->nr].file = get_file(vma->vm_file);
		plan->nr++;
	}
	kfree(buf);
	return err;
}

/*
 * The file mappings' identities, read without the target's mmap_lock (the
 * files' read paths take their own locks, and may wait on I/O): each file
 * once, and no more than a budget of bytes (kcr_file_identity.c).
 */
#define KCR_FILE_IDS_MEMO 512

static int kcr_file_ids_collect(const struct kcr_writer *w, struct kcr_mm_plan *plan,
				struct kcr_reason *why)
{
	u64 budget = KCR_FILE_HASH_BUDGET;
	u32 *read_ids, nr_read = 0, i, j;
	int err = 0;

	read_ids = kmalloc_array(KCR_FILE_IDS_MEMO, sizeof(*read_ids), GFP_KERNEL);
	if (!read_ids)
		return -ENOMEM;
	for (i = 0; i < plan->nr && !err; i++) {
		struct kcr_vma_rec *rec = &plan->vma[i];
		const struct kcr_vma_rec *same = NULL;

		if (!kcr_vma_is_file(rec->v.kind))
			continue;
		for (j = 0; j < nr_read && !same; j++)
			if (file_inode(plan->vma[read_ids[j]].file) == file_inode(rec->file))
				same = &plan->vma[read_ids[j]];
		if (same && !kcr_file_identity_writes(&rec->v)) {
			rec->id = same->id;
		} else {
			err = kcr_file_identity_dump(w, rec->file, &rec->v, &budget, &rec->id);
			if (!err && !kcr_file_identity_writes(&rec->v) &&
			    nr_read < KCR_FILE_IDS_MEMO)
				read_ids[nr_read++] = i;
		}
		rec->id.vma = i;
	}
	kfree(read_ids);
	if (err == -EINTR)
		kcr_set_reason(why, "the checkpoint was interrupted");
	return err;
}

/*
 * Whether the target's mappings are still those of the plan, once its
 * mmap_lock is taken again: its threads are parked, but another process
 * may hold its mm.
 */
static bool kcr_vmas_unchanged(struct mm_struct *mm, const struct kcr_mm_plan *plan)
{
	struct vm_area_struct *vma;
	u32 n = 0;

	VMA_ITERATOR(vmi, mm, 0);

	for_each_vma(vmi, vma) {
		const struct kcr_vma *v;

		if (vma->vm_start == plan->mm.vdso_start ||
		    (plan->mm.vvar_start && vma->vm_start == plan->mm.vvar_start))
			continue;
		if (n >= plan->nr)
			return false;
		v = &plan->vma[n++].v;
		if (vma->vm_start != v->start || vma->vm_end != v->end ||
		    vma->vm_pgoff != v->pgoff ||
		    (kcr_vma_is_file(v->kind) && vma->vm_file != plan->vma[n - 1].file))
			return false;
	}
	return n == plan->nr;
}

static void kcr_mm_fields_dump(struct mm_struct *mm, struct kcr_mm *m)
{
	BUILD_BUG_ON(sizeof(m->saved_auxv) < sizeof(mm->saved_auxv));
	spin_lock(&mm->arg_lock);
	m->start_code = mm->start_code;
	m->end_code = mm->end_code;
	m->start_data = mm->start_data;
	m->end_data = mm->end_data;
	m->start_brk = mm->start_brk;
	m->brk = mm->brk;
	m->start_stack = mm->start_stack;
	m->arg_start = mm->arg_start;
	m->arg_end = mm->arg_end;
	m->env_start = mm->env_start;
	m->env_end = mm->env_end;
	spin_unlock(&mm->arg_lock);
	m->mmap_base = mm->mmap_base;
	memcpy(m->saved_auxv, mm->saved_auxv, sizeof(mm->saved_auxv));
	if (test_bit(MMF_DISABLE_THP, &mm->flags))
		m->flags |= KCR_MM_THP_DISABLED;
	m->dumpable = get_dumpable(mm);
}

/*
 * A chunk's checksum is computed on another CPU while this thread writes the
 * chunk's pages: hashing and copying each read every byte once, and doing
 * them one after the other made the checkpoint slower than the copy alone.
 */
struct kcr_chunk_hash {
	struct work_struct work;
	struct completion done;
	struct page **pages;
	u32 nr_pages;
	u64 seed;
	u64 digest;
	struct xxh64_state state;
};

static void kcr_chunk_hash_fn(struct work_struct *work)
{
	struct kcr_chunk_hash *h = container_of(work, struct kcr_chunk_hash, work);
	u32 i;

	xxh64_reset(&h->state, h->seed);
	for (i = 0; i < h->nr_pages; i++) {
		void *k = kmap_local_page(h->pages[i]);

		xxh64_update(&h->state, k, PAGE_SIZE);
		kunmap_local(k);
	}
	h->digest = xxh64_digest(&h->state);
	complete(&h->done);
}

/*
 * Writes one chunk: a header whose checksum is patched in once the hash is
 * done, then the pages straight from their struct pages.
 */
static void kcr_write_chunk(struct kcr_writer *w, unsigned long addr, struct page **pages,
			    struct bio_vec *bv, u32 n, struct kcr_chunk_hash *h)
{
	struct kcr_page_chunk c = { .addr = addr, .nr_pages = n };
	loff_t hdr_pos = w->pos;
	struct iov_iter iter;
	ssize_t done;
	u32 i;

	kcr_write_raw(w, &c, sizeof(c));
	w->sec.size += sizeof(c);
	if (w->err)
		return;
	h->pages = pages;
	h->nr_pages = n;
	h->seed = addr;
	reinit_completion(&h->done);
	queue_work(system_unbound_wq, &h->work);

	for (i = 0; i < n; i++) {
		bv[i].bv_page = pages[i];
		bv[i].bv_len = PAGE_SIZE;
		bv[i].bv_offset = 0;
	}
	iov_iter_bvec(&iter, ITER_SOURCE, bv, n, (size_t)n * PAGE_SIZE);
	file_start_write(w->file);
	done = vfs_iter_write(w->file, &iter, &w->pos, 0);
	file_end_write(w->file);
	if (done != (ssize_t)n * PAGE_SIZE)
		w->err = done < 0 ? done : -ENOSPC;
	w->sec.size += (u64)n * PAGE_SIZE;

	/* The pages stay pinned until the hash is done with them. */
	wait_for_completion(&h->done);
	if (w->err)
		return;
	c.checksum = h->digest;
	hdr_pos += offsetof(struct kcr_page_chunk, checksum);
	if (kernel_write(w->file, &c.checksum, sizeof(c.checksum), &hdr_pos) != sizeof(c.checksum))
		w->err = -EIO;
}

static bool kcr_page_worth_saving(struct page *page, u32 kind)
{
	void *k;
	bool nonzero;

	/*
	 * Pages of a private file mapping that were never written are in the
	 * file; a written one is saved even if zero, as the file's are not.
	 */
	if (kind == KCR_VMA_FILE_PRIVATE || kind == KCR_VMA_MEMFD_PRIVATE)
		return PageAnon(page);
	k = kmap_local_page(page);
	nonzero = memchr_inv(k, 0, PAGE_SIZE);
	kunmap_local(k);
	return nonzero;
}

struct kcr_page_batch {
	struct page *got[KCR_CHUNK_MAX_PAGES];
	struct page *run[KCR_CHUNK_MAX_PAGES];
	struct bio_vec bv[KCR_CHUNK_MAX_PAGES];
	struct kcr_chunk_hash hash;
};

static int kcr_vma_pages_dump(struct kcr_writer *w, struct mm_struct *mm, const struct kcr_vma *v,
			      struct kcr_page_batch *b, u64 *saved, u64 *chunks)
{
	unsigned long addr = v->start;

	while (addr < v->end && !w->err) {
		unsigned long want =
			min_t(unsigned long, (v->end - addr) >> PAGE_SHIFT, KCR_CHUNK_MAX_PAGES);
		unsigned long run_start = 0;
		long got, i;
		u32 nrun = 0;

		got = get_user_pages_remote(mm, addr, want, FOLL_DUMP | FOLL_FORCE, b->got, NULL,
					    NULL);
		if (got <= 0) {
			/* A hole or the zero page: nothing to save. */
			addr += PAGE_SIZE;
			continue;
		}
		for (i = 0; i < got; i++) {
			unsigned long a = addr + i * PAGE_SIZE;

			if (kcr_page_worth_saving(b->got[i], v->kind)) {
				if (!nrun)
					run_start = a;
				b->run[nrun++] = b->got[i];
				continue;
			}
			if (nrun) {
				kcr_write_chunk(w, run_start, b->run, b->bv, nrun, &b->hash);
				*saved += nrun;
				(*chunks)++;
				nrun = 0;
			}
		}
		if (nrun) {
			kcr_write_chunk(w, run_start, b->run, b->bv, nrun, &b->hash);
			*saved += nrun;
			(*chunks)++;
		}
		for (i = 0; i < got; i++)
			put_page(b->got[i]);
		addr += got * PAGE_SIZE;
		cond_resched();
		if (kcr_writer_aborted(w))
			return -EINTR;
	}
	return w->err;
}

int kcr_mm_dump(struct kcr_writer *w, struct task_struct *t, struct mm_struct *mm,
		struct kcr_memfds *memfds, u64 *pages_saved, struct kcr_reason *why)
{
	struct kcr_mm_plan plan = {};
	struct kcr_page_batch *batch = NULL;
	u64 chunks = 0;
	u32 i, files;
	int err;

	mmap_read_lock(mm);
	kcr_mm_fields_dump(mm, &plan.mm);
	err = kcr_vmas_collect(mm, &plan, memfds, why);
	mmap_read_unlock(mm);
	if (!err && !plan.mm.vdso_start) {
		kcr_set_reason(why, "target has no vdso mapping");
		err = -EOPNOTSUPP;
	}
	/*
	 * Written through a shared mapping, as through an fd (kcr_file_sync()):
	 * before the files' times are read, which writeback may change (NFS).
	 */
	for (i = 0; i < plan.nr && !err; i++)
		if (kcr_file_identity_writes(&plan.vma[i].v))
			err = kcr_file_sync(w, plan.vma[i].file, why);
	if (!err)
		err = kcr_file_ids_collect(w, &plan, why);
	if (err)
		goto out_unlocked;
	mmap_read_lock(mm);
	if (!kcr_vmas_unchanged(mm, &plan)) {
		kcr_set_reason(why, "the process's memory map changed during the checkpoint");
		err = -EAGAIN;
		goto out;
	}
	plan.mm.nr_vmas = plan.nr;

	kcr_section_begin(w, KCR_SEC_MM, true);
	kcr_section_write(w, &plan.mm, sizeof(plan.mm));
	kcr_section_end(w, 1);

	kcr_section_begin(w, KCR_SEC_VMAS, true);
	for (i = 0; i < plan.nr; i++) {
		static const u8 zeros[8];
		u32 len = plan.vma[i].v.path_len;

		kcr_section_write(w, &plan.vma[i].v, sizeof(plan.vma[i].v));
		kcr_section_write(w, plan.vma[i].path, len);
		kcr_section_write(w, zeros, ALIGN(len, 8) - len);
	}
	kcr_section_end(w, plan.nr);

	for (i = 0, files = 0; i < plan.nr; i++)
		files += kcr_vma_is_file(plan.vma[i].v.kind);
	if (files) {
		kcr_section_begin(w, KCR_SEC_FILE_IDS, true);
		for (i = 0; i < plan.nr; i++)
			if (kcr_vma_is_file(plan.vma[i].v.kind))
				kcr_section_write(w, &plan.vma[i].id, sizeof(plan.vma[i].id));
		kcr_section_end(w, files);
	}

	batch = vmalloc(sizeof(*batch));
	if (!batch) {
		err = -ENOMEM;
		goto out;
	}
	INIT_WORK(&batch->hash.work, kcr_chunk_hash_fn);
	init_completion(&batch->hash.done);
	kcr_section_begin(w, KCR_SEC_PAGES, false);
	for (i = 0; i < plan.nr && !err; i++)
		if (kcr_vma_has_pages(plan.vma[i].v.kind))
			err = kcr_vma_pages_dump(w, mm, &plan.vma[i].v, batch, pages_saved,
						 &chunks);
	kcr_section_end(w, (u32)min_t(u64, chunks, U32_MAX));
	if (!err)
		err = w->err;
out:
	mmap_read_unlock(mm);
out_unlocked:
	vfree(batch);
	kcr_vma_recs_free(plan.vma, plan.nr);
	return err;
}

/* --------------------------------------------------------------- restore */

/* fs/exec.c's path_noexec(), which is not exported. */
static bool kcr_path_noexec(const struct path *path)
{
	return (path->mnt->mnt_flags & MNT_NOEXEC) || (path->mnt->mnt_sb->s_iflags & SB_I_NOEXEC);
}

/*
 * Opens a file the image maps, with the restorer's credentials (the image
 * grants no access), and checks everything the later mmap() would refuse.
 * Only a regular file is ever opened: a FIFO would block, a device could
 * act on being opened, a tty would become the controlling one.
 */
static int kcr_vma_file_open(struct kcr_vma_rec *rec, struct kcr_reason *why)
{
	struct kcr_vma *v = &rec->v;
	int flags = O_RDONLY | O_LARGEFILE | O_NONBLOCK | O_NOCTTY;
	u64 len = v->end - v->start;
	struct path path;
	struct file *f;
	struct inode *inode;
	int err;

	err = kern_path(rec->path, LOOKUP_FOLLOW, &path);
	if (err) {
		kcr_set_reason(why, "mapped file %s cannot be found (error %d)", rec->path, err);
		return err;
	}
	err = d_is_reg(path.dentry) ? 0 : -EINVAL;
	path_put(&path);
	if (err) {
		kcr_set_reason(why, "mapped file %s is no longer a regular file", rec->path);
		return err;
	}
	if (v->kind == KCR_VMA_FILE_SHARED && v->vm_flags & (VM_WRITE | VM_MAYWRITE))
		flags = (flags & ~O_ACCMODE) | O_RDWR;
	f = filp_open(rec->path, flags, 0);
	if (IS_ERR(f)) {
		kcr_set_reason(why, "mapped file %s cannot be opened (error %ld)", rec->path,
			       PTR_ERR(f));
		return PTR_ERR(f);
	}
	rec->file = f;
	inode = file_inode(f);
	if (!S_ISREG(inode->i_mode) || !f->f_op->mmap) {
		kcr_set_reason(why, "mapped file %s is no longer a mappable regular file",
			       rec->path);
		return -EINVAL;
	}
	err = kcr_file_identity_check(f, rec->path, v, rec->identity, why);
	if (err)
		return err;
	if ((v->vm_flags & VM_EXEC) && kcr_path_noexec(&f->f_path)) {
		kcr_set_reason(why,
			       "mapped file %s is on a noexec mount; it cannot be mapped executable",
			       rec->path);
		return -EACCES;
	}
	if (v->pgoff > (inode->i_sb->s_maxbytes >> PAGE_SHIFT) ||
	    len > inode->i_sb->s_maxbytes - (v->pgoff << PAGE_SHIFT)) {
		kcr_set_reason(why, "image maps %s beyond the largest offset its filesystem allows",
			       rec->path);
		return -EOVERFLOW;
	}
	return 0;
}

/*
 * Whether this process may map at the address at all (vm.mmap_min_addr,
 * the LSMs' own minimum): the same check mmap() makes, without mapping.
 */
static int kcr_vma_addr_check(const struct kcr_vma *v, struct kcr_reason *why)
{
	unsigned long addr =
		get_unmapped_area(NULL, v->start, v->end - v->start, 0, MAP_FIXED | MAP_PRIVATE);

	if (IS_ERR_VALUE(addr) || addr != v->start) {
		kcr_set_reason(why,
			       "image mapping %llx-%llx is at an address this process may not map (below vm.mmap_min_addr?)",
			       v->start, v->end);
		return IS_ERR_VALUE(addr) ? (int)addr : -EPERM;
	}
	return 0;
}

static int kcr_vma_check(struct kcr_vma_rec *rec, const struct kcr_vma_rec *prev,
			 const struct kcr_mm *m, struct kcr_reason *why)
{
	const struct kcr_vma *v = &rec->v;

	if (v->start >= v->end || !PAGE_ALIGNED(v->start) || !PAGE_ALIGNED(v->end) ||
	    v->end > TASK_SIZE || v->start < PAGE_SIZE || v->kind > KCR_VMA_MEMFD_SHARED ||
	    (prev && v->start < prev->v.end) ||
	    (v->start < m->vdso_end && m->vvar_start < v->end)) {
		kcr_set_reason(why, "image mapping %llx-%llx is invalid or overlaps another",
			       v->start, v->end);
		return -EINVAL;
	}
	if ((v->kind == KCR_VMA_FILE_PRIVATE || v->kind == KCR_VMA_FILE_SHARED) &&
	    (!v->path_len || v->path_len >= PATH_MAX)) {
		kcr_set_reason(why, "image mapping %llx-%llx has no file name", v->start, v->end);
		return -EINVAL;
	}
	/* What a mapping of each kind is; a write into the other would fail late. */
	if (!(v->vm_flags & VM_SHARED) !=
	    (v->kind == KCR_VMA_ANON || v->kind == KCR_VMA_FILE_PRIVATE ||
	     v->kind == KCR_VMA_MEMFD_PRIVATE)) {
		kcr_set_reason(why, "image mapping %llx-%llx is shared or private against its kind",
			       v->start, v->end);
		return -EINVAL;
	}
	if ((v->kind == KCR_VMA_MEMFD_PRIVATE || v->kind == KCR_VMA_MEMFD_SHARED) &&
	    (v->path_len || v->memfd_id >= KCR_MAX_MEMFDS)) {
		kcr_set_reason(why, "image mapping %llx-%llx of a memfd is malformed", v->start,
			       v->end);
		return -EINVAL;
	}
	if (v->kind == KCR_VMA_SHARED_ANON && !(v->vm_flags & VM_WRITE)) {
		kcr_set_reason(why, "image has a read-only shared anonymous mapping");
		return -EINVAL;
	}
	if (((v->vm_flags & VM_HUGEPAGE) && (v->vm_flags & VM_NOHUGEPAGE)) ||
	    ((v->vm_flags & VM_WIPEONFORK) && v->kind != KCR_VMA_ANON)) {
		kcr_set_reason(why, "image mapping %llx-%llx has advice flags no mapping can have",
			       v->start, v->end);
		return -EINVAL;
	}
	if ((v->vm_flags & VM_GROWSDOWN) && v->kind != KCR_VMA_ANON) {
		kcr_set_reason(why, "image mapping %llx-%llx grows down but is not a stack",
			       v->start, v->end);
		return -EINVAL;
	}
	return kcr_vma_addr_check(v, why);
}

/*
 * The FILE_IDS records, each onto its file mapping's rec->identity: one per
 * file mapping, in order, from a version 6 image; none before it.
 */
static int kcr_file_ids_parse(struct kcr_loaded_image *img, struct kcr_mm_plan *plan,
			      struct kcr_reason *why)
{
	struct kcr_loaded_section *s = &img->sec[KCR_SEC_FILE_IDS];
	const struct kcr_file_identity *id = s->data;
	u32 i, n = 0, files = 0;

	for (i = 0; i < plan->nr; i++)
		files += kcr_vma_is_file(plan->vma[i].v.kind);
	if (!s->data) {
		if (img->hdr.version < KCR_IMAGE_VERSION_FILE_IDS || !files)
			return 0;
		goto bad;
	}
	if (img->hdr.version < KCR_IMAGE_VERSION_FILE_IDS || !files || s->hdr.count != files ||
	    s->hdr.size != (u64)files * sizeof(*id))
		goto bad;
	for (i = 0; i < plan->nr; i++) {
		if (!kcr_vma_is_file(plan->vma[i].v.kind))
			continue;
		if (id[n].vma != i || kcr_file_identity_valid(&id[n]))
			goto bad;
		plan->vma[i].identity = &id[n++];
	}
	return 0;
bad:
	kcr_set_reason(why, "image file identity table is missing or malformed");
	return -EBADMSG;
}

static int kcr_vmas_parse(struct kcr_loaded_image *img, struct kcr_mm_plan *plan, bool dry_run,
			  struct kcr_reason *why)
{
	struct kcr_loaded_section *s = &img->sec[KCR_SEC_VMAS];
	const u8 *p = s->data, *end = p + s->hdr.size;
	u32 i;
	int err;

	if (!p || s->hdr.count != plan->mm.nr_vmas || plan->mm.nr_vmas > 65536) {
		kcr_set_reason(why, "image mapping table is missing or inconsistent");
		return -EBADMSG;
	}
	plan->vma = kvcalloc(plan->mm.nr_vmas, sizeof(*plan->vma), GFP_KERNEL_ACCOUNT);
	if (!plan->vma)
		return -ENOMEM;
	for (i = 0; i < plan->mm.nr_vmas; i++) {
		struct kcr_vma_rec *rec = &plan->vma[i];

		if (end - p < sizeof(rec->v))
			goto bad;
		memcpy(&rec->v, p, sizeof(rec->v));
		p += sizeof(rec->v);
		if (rec->v.path_len >= PATH_MAX || end - p < ALIGN(rec->v.path_len, 8))
			goto bad;
		plan->nr = i + 1;
		if (rec->v.path_len) {
			rec->path = kmemdup_nul(p, rec->v.path_len, GFP_KERNEL_ACCOUNT);
			if (!rec->path)
				return -ENOMEM;
		}
		p += ALIGN(rec->v.path_len, 8);
		err = kcr_vma_check(rec, i ? &plan->vma[i - 1] : NULL, &plan->mm, why);
		if (err)
			return err;
	}
	if (p != end)
		goto bad;
	err = kcr_file_ids_parse(img, plan, why);
	if (err)
		return err;
	for (i = 0; i < plan->nr; i++) {
		struct kcr_vma_rec *rec = &plan->vma[i];

		if (kcr_vma_is_file(rec->v.kind)) {
			err = kcr_vma_file_open(rec, why);
			if (err)
				return err;
		}
		/* A dry run comes before the restorer has made the memfds. */
		if (!dry_run &&
		    (rec->v.kind == KCR_VMA_MEMFD_PRIVATE || rec->v.kind == KCR_VMA_MEMFD_SHARED)) {
			err = kcr_memfd_take(img->memfds, img->nr_memfds, &rec->v, &rec->file, why);
			if (err)
				return err;
		}
	}
	return 0;
bad:
	kcr_set_reason(why, "image mapping table is malformed");
	return -EBADMSG;
}

static const struct kcr_vma_rec *kcr_vma_find(const struct kcr_mm_plan *plan, u64 addr, u64 len)
{
	u32 lo = 0, hi = plan->nr;

	while (lo < hi) {
		u32 mid = (lo + hi) / 2;
		const struct kcr_vma *v = &plan->vma[mid].v;

		if (addr >= v->end) {
			lo = mid + 1;
		} else if (addr < v->start) {
			hi = mid;
		} else {
			if (len > v->end - addr || !kcr_vma_has_pages(v->kind))
				return NULL;
			return &plan->vma[mid];
		}
	}
	return NULL;
}

/* Walks the chunk headers only, so a bad page table is refused before any damage. */
static int kcr_pages_scan(struct kcr_loaded_image *img, struct kcr_mm_plan *plan,
			  struct kcr_reason *why)
{
	struct kcr_loaded_section *s = &img->sec[KCR_SEC_PAGES];
	loff_t pos = s->payload_pos, end = s->payload_pos + s->hdr.size;
	u64 prev_end = 0;

	if (!s->payload_pos) {
		kcr_set_reason(why, "image has no page section");
		return -EBADMSG;
	}
	while (pos < end) {
		struct kcr_page_chunk c;
		u64 len;

		if (end - pos < sizeof(c) ||
		    kernel_read(img->file, &c, sizeof(c), &pos) != sizeof(c))
			goto bad;
		len = (u64)c.nr_pages * PAGE_SIZE;
		if (!c.nr_pages || c.nr_pages > KCR_CHUNK_MAX_PAGES || !PAGE_ALIGNED(c.addr) ||
		    c.addr < prev_end || len > end - pos || !kcr_vma_find(plan, c.addr, len))
			goto bad;
		prev_end = c.addr + len;
		pos += len;
		plan->nr_chunks++;
		cond_resched();
		if (fatal_signal_pending(current)) {
			kcr_set_reason(why, "the restore was killed");
			return -EINTR;
		}
	}
	return 0;
bad:
	kcr_set_reason(why, "image page data is malformed near offset %lld", pos);
	return -EBADMSG;
}

/* The index of the image mapping that starts at start, or plan->nr. */
static u32 kcr_vma_index(const struct kcr_mm_plan *plan, u64 start)
{
	u32 lo = 0, hi = plan->nr;

	while (lo < hi) {
		u32 mid = (lo + hi) / 2;

		if (start == plan->vma[mid].v.start)
			return mid;
		if (start > plan->vma[mid].v.start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return plan->nr;
}

static struct kcr_vma_rec *kcr_vma_exact(const struct kcr_mm_plan *plan, u64 start, u64 end)
{
	u32 i = kcr_vma_index(plan, start);

	return i < plan->nr && plan->vma[i].v.end == end ? &plan->vma[i] : NULL;
}

/*
 * Private writable memory the restorer fills before the point of no return;
 * or shared anonymous memory a process tree's restore mapped and filled once
 * for all the processes sharing it, which each of them keeps.
 */
static bool kcr_prefillable(const struct kcr_vma *v)
{
	if (v->kind == KCR_VMA_SHARED_ANON)
		return v->vm_flags & VM_WRITE;
	return v->kind == KCR_VMA_ANON && (v->vm_flags & VM_WRITE) && !(v->vm_flags & VM_SHARED);
}

/* A range the restorer names that is not such an image mapping is simply filled here. */
static void kcr_prefilled_mark(struct kcr_loaded_image *img, struct kcr_mm_plan *plan)
{
	u32 i;

	for (i = 0; i < img->nr_prefilled; i++) {
		struct kcr_vma_rec *rec =
			kcr_vma_exact(plan, img->prefilled[i].start, img->prefilled[i].end);

		if (rec && kcr_prefillable(&rec->v))
			rec->prefilled = true;
	}
}

/*
 * What an mmap() of the image's mapping sets, and so what a kept mapping must
 * match (a locked one never does: the restorer's prefill does not lock), and
 * the madvise() flags, which the restorer sets as it maps.
 */
#define KCR_KEEP_FLAGS                                                                        \
	(VM_READ | VM_WRITE | VM_EXEC | VM_SHARED | VM_GROWSDOWN | VM_NORESERVE | VM_LOCKED | \
	 KCR_ADVICE_FLAGS)

static bool kcr_prefilled_matches(struct vm_area_struct *vma, const struct kcr_vma_rec *rec)
{
	bool shared = rec->v.kind == KCR_VMA_SHARED_ANON;
	/*
	 * A tree's shared memory is mapped once, before the fork, where
	 * madvise() flags would not all survive it (MADV_DONTFORK): each
	 * process's own are set on it once kept (kcr_kept_advice_restore).
	 */
	unsigned long flags = shared ? KCR_KEEP_FLAGS & ~KCR_ADVICE_FLAGS : KCR_KEEP_FLAGS;

	return rec->prefilled && (shared ? kcr_vma_shared_anon(vma) : vma_is_anonymous(vma)) &&
	       (vma->vm_flags & flags) == (rec->v.vm_flags & flags);
}

/*
 * Whether the restorer's mapping vma is the image's mappings it filled, so
 * that it stays as it is; if so they are marked kept. Usually one image
 * mapping is one of the restorer's. But the restorer's mappings of adjacent
 * image mappings merge when only their anon_vma kept them apart in the saved
 * process (a child's malloc() next to memory inherited across fork): then
 * the run of image mappings that covers vma exactly, each matching it, is
 * kept as the one mapping it has become.
 */
static bool kcr_prefilled_keep(struct kcr_mm_plan *plan, struct vm_area_struct *vma)
{
	u32 first = kcr_vma_index(plan, vma->vm_start), i;
	u64 at = vma->vm_start;

	for (i = first; i < plan->nr && at < vma->vm_end; i++) {
		const struct kcr_vma_rec *rec = &plan->vma[i];

		/* (Shared anonymous mappings never merge: each is its own file.) */
		if (rec->v.start != at || rec->v.end > vma->vm_end ||
		    !kcr_prefilled_matches(vma, rec) ||
		    (i > first && rec->v.kind == KCR_VMA_SHARED_ANON))
			return false;
		at = rec->v.end;
	}
	if (at != vma->vm_end)
		return false;
	while (first < i)
		plan->vma[first++].kept = true;
	return true;
}

static int kcr_mm_fields_check(const struct kcr_mm *m, struct kcr_reason *why)
{
	const u64 *f = &m->start_code;
	int i;

	for (i = 0; i <= (&m->mmap_base - &m->start_code); i++) {
		if (f[i] > TASK_SIZE) {
			kcr_set_reason(why, "image memory layout field holds a kernel address");
			return -EINVAL;
		}
	}
	if (m->start_brk > m->brk || m->arg_start > m->arg_end || m->env_start > m->env_end) {
		kcr_set_reason(why, "image memory layout is inconsistent");
		return -EINVAL;
	}
	if (m->flags & ~KCR_MM_FLAGS_ALL) {
		kcr_set_reason(why, "image has memory flags this module does not know");
		return -EINVAL;
	}
	if (m->dumpable > SUID_DUMP_ROOT) {
		kcr_set_reason(why, "image has an unknown dumpable setting %u", m->dumpable);
		return -EINVAL;
	}
	/* /proc/PID/auxv reads up to the first AT_NULL key: it must be inside. */
	for (i = 0; i + 1 < AT_VECTOR_SIZE; i += 2)
		if (m->saved_auxv[i] == AT_NULL)
			return 0;
	kcr_set_reason(why, "image auxiliary vector has no AT_NULL end");
	return -EINVAL;
}

/* The restorer's [vvar]: the VM_PFNMAP mapping that ends where its vdso starts. */
static struct vm_area_struct *kcr_own_vvar(struct mm_struct *mm)
{
	unsigned long vdso = (unsigned long)mm->context.vdso;
	struct vm_area_struct *vma = find_vma(mm, vdso - 1);

	if (vma && vma->vm_end == vdso && (vma->vm_flags & (VM_IO | VM_PFNMAP)))
		return vma;
	return NULL;
}

static int kcr_vdso_check(const struct kcr_mm *m, bool dry_run, struct kcr_reason *why)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vdso_vma, *vvar_vma;
	unsigned long vdso = (unsigned long)mm->context.vdso;
	unsigned long vvar = 0;
	int err = 0;

	if (!m->vdso_start || m->vdso_start >= m->vdso_end || m->vvar_start > m->vvar_end ||
	    m->vvar_end != m->vdso_start || m->vdso_end > TASK_SIZE ||
	    !PAGE_ALIGNED(m->vvar_start) || !PAGE_ALIGNED(m->vdso_start) ||
	    !PAGE_ALIGNED(m->vdso_end)) {
		kcr_set_reason(why, "image vdso placement is invalid");
		return -EINVAL;
	}
	mmap_read_lock(mm);
	vdso_vma = find_vma(mm, vdso);
	vvar_vma = kcr_own_vvar(mm);
	if (!vdso_vma || vdso_vma->vm_start != vdso || !vvar_vma ||
	    vdso_vma->vm_end - vdso_vma->vm_start != m->vdso_end - m->vdso_start ||
	    vvar_vma->vm_end - vvar_vma->vm_start != m->vvar_end - m->vvar_start) {
		kcr_set_reason(why,
			       "vdso or vvar size differs from the image's (another kernel build?)");
		err = -EINVAL;
	} else {
		vvar = vvar_vma->vm_start;
	}
	mmap_read_unlock(mm);
	if (err || dry_run)
		return err;
	/* libkcr moves its vdso to the image's address before the real restore. */
	if (vdso != m->vdso_start || vvar != m->vvar_start) {
		kcr_set_reason(why, "restorer's vdso is at %lx, the image's at %llx (not moved)",
			       vdso, m->vdso_start);
		return -EADDRNOTAVAIL;
	}
	return 0;
}

/*
 * Memory the program had locked (mlock) is mapped locked again, which the
 * restorer's RLIMIT_MEMLOCK (set from the image by then) must allow, as for
 * mlock(): checked here, where a refusal still leaves the restorer intact.
 */
static int kcr_mlock_check(const struct kcr_mm_plan *plan, struct kcr_reason *why)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK);
	u64 locked = 0;
	u32 i;

	for (i = 0; i < plan->nr; i++)
		if (plan->vma[i].v.vm_flags & VM_LOCKED)
			locked += plan->vma[i].v.end - plan->vma[i].v.start;
	if (!locked || capable(CAP_IPC_LOCK) || limit == RLIM_INFINITY || locked <= limit)
		return 0;
	kcr_set_reason(why,
		       "the program locked %llu bytes in memory (mlock); this restorer may lock only %lu (ulimit -l)",
		       locked, limit);
	return -EPERM;
}

int kcr_mm_validate(struct kcr_loaded_image *img, bool dry_run, struct kcr_reason *why)
{
	struct kcr_loaded_section *s = &img->sec[KCR_SEC_MM];
	struct kcr_mm_plan *plan;
	int err;

	if (!s->data || s->hdr.size != sizeof(struct kcr_mm)) {
		kcr_set_reason(why, "image memory section is missing or has the wrong size");
		return -EBADMSG;
	}
	plan = kzalloc(sizeof(*plan), GFP_KERNEL);
	if (!plan)
		return -ENOMEM;
	img->mm_plan = plan;
	memcpy(&plan->mm, s->data, sizeof(plan->mm));
	err = kcr_mm_fields_check(&plan->mm, why);
	/*
	 * The vdso's sizes first (a dry run's check): a [vvar] of another size
	 * may also reach into the mapping below it, and the refusal should name
	 * the cause. Where the restorer put its vdso is checked last.
	 */
	if (!err)
		err = kcr_vdso_check(&plan->mm, true, why);
	if (!err)
		err = kcr_vmas_parse(img, plan, dry_run, why);
	if (!err)
		err = kcr_pages_scan(img, plan, why);
	if (!err && !dry_run)
		err = kcr_vdso_check(&plan->mm, false, why);
	if (!err && !dry_run)
		err = kcr_mlock_check(plan, why);
	if (!err)
		kcr_prefilled_mark(img, plan);
	return err;
}

void kcr_mm_plan_free(struct kcr_loaded_image *img)
{
	struct kcr_mm_plan *plan = img->mm_plan;

	if (!plan)
		return;
	kcr_vma_recs_free(plan->vma, plan->nr);
	kfree(plan);
	img->mm_plan = NULL;
}

/*
 * Unmaps everything of the restorer except the vdso and vvar it moved into
 * place and the image's mappings it filled itself. The two are known by
 * what they are, not by the image's addresses: an image must not choose
 * which of the restorer's mappings survive.
 */
static int kcr_unmap_restorer(struct kcr_mm_plan *plan)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma, *vvar;
	unsigned long(*ranges)[2];
	unsigned long vdso = (unsigned long)mm->context.vdso;
	int nr = 0, i, err = 0;

	VMA_ITERATOR(vmi, mm, 0);

	mmap_read_lock(mm);
	ranges = kvcalloc(mm->map_count, sizeof(*ranges), GFP_KERNEL);
	if (!ranges) {
		mmap_read_unlock(mm);
		return -ENOMEM;
	}
	vvar = kcr_own_vvar(mm);
	for_each_vma(vmi, vma) {
		if (vma->vm_start == vdso || vma == vvar || kcr_prefilled_keep(plan, vma))
			continue;
		if (nr < mm->map_count) {
			ranges[nr][0] = vma->vm_start;
			ranges[nr][1] = vma->vm_end;
			nr++;
		}
	}
	mmap_read_unlock(mm);
	for (i = 0; i < nr && !err; i++)
		err = vm_munmap(ranges[i][0], ranges[i][1] - ranges[i][0]);
	kvfree(ranges);
	return err;
}

static int kcr_vma_map(const struct kcr_vma_rec *rec)
{
	const struct kcr_vma *v = &rec->v;
	unsigned long prot = 0, flags = MAP_FIXED, addr;

	if (v->vm_flags & VM_READ)
		prot |= PROT_READ;
	if (v->vm_flags & VM_WRITE)
		prot |= PROT_WRITE;
	if (v->vm_flags & VM_EXEC)
		prot |= PROT_EXEC;
	flags |= (v->vm_flags & VM_SHARED) ? MAP_SHARED : MAP_PRIVATE;
	if (v->vm_flags & VM_GROWSDOWN)
		flags |= MAP_GROWSDOWN;
	if (v->vm_flags & VM_NORESERVE)
		flags |= MAP_NORESERVE;
	if (v->vm_flags & VM_LOCKED)
		flags |= MAP_LOCKED;
	if (rec->file)
		addr = vm_mmap(rec->file, v->start, v->end - v->start, prot, flags,
			       v->pgoff << PAGE_SHIFT);
	else
		addr = vm_mmap(NULL, v->start, v->end - v->start, prot, flags | MAP_ANONYMOUS, 0);
	return addr == v->start ? 0 : (IS_ERR_VALUE(addr) ? (int)addr : -EFAULT);
}

/*
 * The restorer filled and verified most memory itself; what it left to the
 * module is read here, verified against its chunk's checksum (the image
 * must not have changed since libkcr checked it), then put in place.
 */
static int kcr_chunk_fill(struct kcr_loaded_image *img, const struct kcr_vma_rec *rec,
			  const struct kcr_page_chunk *c, loff_t *pos, void *bounce)
{
	size_t len = (size_t)c->nr_pages * PAGE_SIZE;
	ssize_t n;

	n = kernel_read(img->file, bounce, len, pos);
	if (n != len)
		return -EIO;
	if (xxh64(bounce, len, c->addr) != c->checksum)
		return -EBADMSG;
	/* Writable: a plain copy. Read-only or PROT_NONE: FOLL_FORCE, as a debugger writes. */
	if (rec->v.vm_flags & VM_WRITE)
		return copy_to_user(u64_to_user_ptr(c->addr), bounce, len) ? -EFAULT : 0;
	if (access_process_vm(current, c->addr, bounce, len, FOLL_FORCE | FOLL_WRITE) != len)
		return -EFAULT;
	return 0;
}

static int kcr_pages_restore(struct kcr_loaded_image *img, struct kcr_mm_plan *plan)
{
	struct kcr_loaded_section *s = &img->sec[KCR_SEC_PAGES];
	loff_t pos = s->payload_pos, end = s->payload_pos + s->hdr.size;
	void *bounce = vmalloc(KCR_CHUNK_MAX_PAGES * PAGE_SIZE);
	int err = 0;

	if (!bounce)
		return -ENOMEM;
	while (pos < end && !err) {
		struct kcr_page_chunk c;
		const struct kcr_vma_rec *rec;

		if (kernel_read(img->file, &c, sizeof(c), &pos) != sizeof(c)) {
			err = -EIO;
			break;
		}
		/* Checked by kcr_pages_scan(); checked again in case the file changed since. */
		rec = kcr_vma_find(plan, c.addr, (u64)c.nr_pages * PAGE_SIZE);
		if (!rec || !c.nr_pages || c.nr_pages > KCR_CHUNK_MAX_PAGES) {
			err = -EBADMSG;
			break;
		}
		if (rec->kept) {
			pos += (loff_t)c.nr_pages * PAGE_SIZE;
			continue;
		}
		err = kcr_chunk_fill(img, rec, &c, &pos, bounce);
		cond_resched();
		/* Past the point of no return a kill only ends the fill sooner. */
		if (!err && fatal_signal_pending(current))
			err = -EINTR;
	}
	vfree(bounce);
	return err;
}

/*
 * A program that was not dumpable stays so: it may hold what its user may not
 * read. Never "dumpable by root" (2), whatever the image says: prctl()
 * refuses that value too, as a core dump would then be written as root.
 * Otherwise a restore starts a new program, as exec does: dumpable
 * (checkpointable, ptraceable by its owner) when its credentials are
 * ordinary, whatever a credential change of the restorer (slurmstepd's
 * setuid to the job's user) had left; same rule as begin_new_exec().
 */
static void kcr_dumpable_restore(struct mm_struct *mm, u32 dumpable)
{
	const struct cred *cred = current_cred();

	if (dumpable != SUID_DUMP_USER)
		set_mask_bits(&mm->flags, MMF_DUMPABLE_MASK, SUID_DUMP_DISABLE);
	else if (uid_eq(cred->euid, cred->uid) && gid_eq(cred->egid, cred->gid))
		set_mask_bits(&mm->flags, MMF_DUMPABLE_MASK, SUID_DUMP_USER);
}

static void kcr_mm_fields_restore(const struct kcr_mm *m)
{
	struct mm_struct *mm = current->mm;

	/* The same fields prctl(PR_SET_MM_MAP) sets, under the same locks. */
	mmap_write_lock(mm);
	mm->mmap_base = m->mmap_base;
	spin_lock(&mm->arg_lock);
	mm->start_code = m->start_code;
	mm->end_code = m->end_code;
	mm->start_data = m->start_data;
	mm->end_data = m->end_data;
	mm->start_brk = m->start_brk;
	mm->brk = m->brk;
	mm->start_stack = m->start_stack;
	mm->arg_start = m->arg_start;
	mm->arg_end = m->arg_end;
	mm->env_start = m->env_start;
	mm->env_end = m->env_end;
	spin_unlock(&mm->arg_lock);
	memcpy(mm->saved_auxv, m->saved_auxv, sizeof(mm->saved_auxv));
	if (m->flags & KCR_MM_THP_DISABLED)
		set_bit(MMF_DISABLE_THP, &mm->flags);
	else
		clear_bit(MMF_DISABLE_THP, &mm->flags);
	mmap_write_unlock(mm);
	kcr_dumpable_restore(mm, m->dumpable);
}

/* A mapping's madvise() flags, set as madvise() sets them. */
static void kcr_advice_restore(const struct kcr_vma *v)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;

	mmap_write_lock(mm);
	vma = find_vma(mm, v->start);
	if (vma && vma->vm_start == v->start && vma->vm_end == v->end)
		vma->vm_flags |= v->vm_flags & KCR_ADVICE_FLAGS;
	mmap_write_unlock(mm);
}

/* The madvise() flags of the kept shared mappings (see kcr_prefilled_matches). */
static void kcr_kept_advice_restore(const struct kcr_mm_plan *plan)
{
	u32 i;

	for (i = 0; i < plan->nr; i++) {
		const struct kcr_vma *v = &plan->vma[i].v;

		if (plan->vma[i].kept && v->kind == KCR_VMA_SHARED_ANON &&
		    (v->vm_flags & KCR_ADVICE_FLAGS))
			kcr_advice_restore(v);
	}
}

/* The plan's mappings with (or without) madvise() flags. */
static int kcr_vmas_map(struct kcr_mm_plan *plan, bool advised, struct kcr_reason *why)
{
	int err;
	u32 i;

	for (i = 0; i < plan->nr; i++) {
		const struct kcr_vma *v = &plan->vma[i].v;

		if (plan->vma[i].kept || !(v->vm_flags & KCR_ADVICE_FLAGS) != !advised)
			continue;
		err = kcr_vma_map(&plan->vma[i]);
		if (err) {
			kcr_set_reason(why, "mapping %llx-%llx failed (%d)", v->start, v->end, err);
			return err;
		}
		if (advised)
			kcr_advice_restore(v);
	}
	return 0;
}

/* Past the point of no return: the caller kills the restorer on any error. */
int kcr_mm_restore(struct kcr_loaded_image *img, struct kcr_reason *why)
{
	struct kcr_mm_plan *plan = img->mm_plan;
	int err;

	err = kcr_unmap_restorer(plan);
	if (err) {
		kcr_set_reason(why, "unmapping the restorer failed (%d)", err);
		return err;
	}
	/*
	 * Fill with small pages: init_on_alloc (Debian's default) clears a
	 * huge page once when allocated and again when faulted in, so filling
	 * huge pages costs twice. The image's own setting is set at the end.
	 * An atomic bit: the restorer is single-threaded, so no prctl races it.
	 */
	set_bit(MMF_DISABLE_THP, &current->mm->flags);
	/*
	 * Mappings with madvise() flags first, each given its flags at once,
	 * while no neighbour is there to merge with: a plain mapping placed
	 * next to one afterwards differs in flags and stays apart, as it was.
	 */
	kcr_kept_advice_restore(plan);
	err = kcr_vmas_map(plan, true, why);
	if (!err)
		err = kcr_vmas_map(plan, false, why);
	if (err)
		return err;
	err = kcr_pages_restore(img, plan);
	if (err) {
		if (err == -EBADMSG)
			kcr_set_reason(why,
				       "image pages fail their checksum: the image changed during the restore");
		else
			kcr_set_reason(why, "filling memory from the image failed (%d)", err);
		return err;
	}
	kcr_mm_fields_restore(&plan->mm);
	return 0;
}
