// SPDX-License-Identifier: GPL-2.0
/*
 * kcr: reading and writing image sections (format in uapi/kcr_uapi.h).
 *
 * The writer keeps a running xxh64 of the open section and patches the
 * section header when the section ends, so callers stream their payload.
 * The loader reads every metadata section into memory with a size cap and
 * checks its checksum before anything of the restoring process is touched.
 */
#include <linux/fs.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/xxhash.h>
#include <linux/string.h>
#include "kcr_internal.h"

/* The header's fields fill exactly its size: a new one takes reserved bytes. */
static_assert(sizeof(struct kcr_image_header) == KCR_HEADER_SIZE);

/* No metadata section may be larger: bounds kernel memory for hostile images. */
#define KCR_MAX_META_SECTION (64UL << 20)
/*
 * All sections held in memory at once, each charged to the caller's memory
 * cgroup: a hostile image costs its restorer no more than this, and only
 * from its own allowance.
 */
#define KCR_MAX_META_TOTAL (128UL << 20)

u64 kcr_hash(const void *data, size_t len, u64 seed)
{
	return xxh64(data, len, seed);
}

int kcr_writer_init(struct kcr_writer *w, struct file *file)
{
	memset(w, 0, sizeof(*w));
	w->file = file;
	w->hash = kmalloc(sizeof(*w->hash), GFP_KERNEL);
	if (!w->hash)
		return -ENOMEM;
	/* The header is written last, once every count and size is known. */
	w->pos = KCR_HEADER_SIZE;
	return 0;
}

void kcr_writer_destroy(struct kcr_writer *w)
{
	kfree(w->hash);
	w->hash = NULL;
}

void kcr_write_raw(struct kcr_writer *w, const void *data, size_t len)
{
	ssize_t n;

	if (w->err || !len)
		return;
	n = kernel_write(w->file, data, len, &w->pos);
	if (n < 0)
		w->err = n;
	else if (n != len)
		w->err = -ENOSPC;
}

void kcr_section_begin(struct kcr_writer *w, u32 type, bool checksummed)
{
	memset(&w->sec, 0, sizeof(w->sec));
	w->sec.type = type;
	w->sections_seen |= BIT(type);
	w->sec_pos = w->pos;
	w->hashing = checksummed;
	if (checksummed)
		xxh64_reset(w->hash, 0);
	/* Placeholder header; kcr_section_end() rewrites it. */
	kcr_write_raw(w, &w->sec, sizeof(w->sec));
}

void kcr_section_write(struct kcr_writer *w, const void *data, size_t len)
{
	if (w->err)
		return;
	if (w->hashing)
		xxh64_update(w->hash, data, len);
	w->sec.size += len;
	kcr_write_raw(w, data, len);
}

void kcr_section_write_padded(struct kcr_writer *w, const void *data, size_t len)
{
	static const u8 zeros[8];

	if (data)
		kcr_section_write(w, data, len);
	kcr_section_write(w, zeros, ALIGN(len, 8) - len);
}

int kcr_section_write_file(struct kcr_writer *w, struct file *f, u64 size, void *buf)
{
	loff_t pos = 0;

	while (pos < size && !w->err) {
		size_t want = min_t(u64, size - pos, KCR_FILE_COPY_BYTES);
		ssize_t n = kernel_read(f, buf, want, &pos);

		if (n <= 0)
			return n ? n : -ENODATA; /* shrank while we read: fail, don't guess */
		kcr_section_write(w, buf, n);
		if (kcr_writer_aborted(w))
			return -EINTR;
	}
	return w->err;
}

void kcr_section_end(struct kcr_writer *w, u32 count)
{
	static const u8 zeros[8];
	size_t pad = ALIGN(w->sec.size, 8) - w->sec.size;
	loff_t hdr_pos = w->sec_pos;

	kcr_write_raw(w, zeros, pad);
	w->sec.count = count;
	w->sec.checksum = w->hashing ? xxh64_digest(w->hash) : 0;
	if (w->err)
		return;
	if (kernel_write(w->file, &w->sec, sizeof(w->sec), &hdr_pos) != sizeof(w->sec))
		w->err = -EIO;
	w->nr_sections++;
}

/* ---- loading ---- */

static int kcr_read_exact(struct file *f, void *buf, size_t len, loff_t pos)
{
	ssize_t n = kernel_read(f, buf, len, &pos);

	if (n < 0)
		return n;
	return n == len ? 0 : -ENODATA;
}

static int kcr_header_check(struct kcr_loaded_image *img, struct kcr_reason *why)
{
	struct kcr_image_header *h = &img->hdr;
	u64 sum = h->checksum;

	if (memcmp(h->magic, KCR_IMAGE_MAGIC, sizeof(h->magic))) {
		kcr_set_reason(why, "not a kcr image (bad magic)");
		return -EINVAL;
	}
	if (h->version < KCR_IMAGE_VERSION_MIN || h->version > KCR_IMAGE_VERSION ||
	    h->header_size != KCR_HEADER_SIZE) {
		kcr_set_reason(why,
			       "image format version %u is not supported (this kcr reads %u to %u)",
			       h->version, KCR_IMAGE_VERSION_MIN, KCR_IMAGE_VERSION);
		return -EINVAL;
	}
	h->checksum = 0;
	if (kcr_hash(h, sizeof(*h), 0) != sum) {
		h->checksum = sum;
		kcr_set_reason(why, "image header checksum mismatch (corrupt image)");
		return -EBADMSG;
	}
	h->checksum = sum;
	if (h->arch != KCR_ARCH_X86_64) {
		kcr_set_reason(why, "image is for another architecture (%u)", h->arch);
		return -EINVAL;
	}
	if (h->image_bytes != img->size) {
		kcr_set_reason(why, "image is %lld bytes, its header says %llu (truncated?)",
			       img->size, h->image_bytes);
		return -EBADMSG;
	}
	h->release[KCR_UTS_LEN - 1] = 0;
	h->kversion[KCR_UTS_LEN - 1] = 0;
	h->comm[sizeof(h->comm) - 1] = 0;
	return 0;
}

static int kcr_section_load(struct kcr_loaded_image *img, loff_t *pos, bool *end,
			    struct kcr_reason *why)
{
	struct kcr_section s;
	struct kcr_loaded_section *ls;
	loff_t payload = *pos + sizeof(s);
	int err;

	err = kcr_read_exact(img->file, &s, sizeof(s), *pos);
	if (err) {
		kcr_set_reason(why, "image truncated at offset %lld", *pos);
		return -EBADMSG;
	}
	if (s.type >= KCR_SEC_MAX || s.size > img->size - payload ||
	    ALIGN(s.size, 8) > img->size - payload) {
		kcr_set_reason(why, "bad section (type %u, %llu bytes) at offset %lld", s.type,
			       s.size, *pos);
		return -EBADMSG;
	}
	ls = &img->sec[s.type];
	if (ls->hdr.size || ls->payload_pos) {
		kcr_set_reason(why, "duplicate section type %u", s.type);
		return -EBADMSG;
	}
	ls->hdr = s;
	ls->payload_pos = payload;
	*pos = payload + ALIGN(s.size, 8);
	if (s.type == KCR_SEC_END) {
		*end = true;
		return 0;
	}
	/*
	 * Memory is checked chunk by chunk as it is read; deleted files and
	 * memfds are libkcr's to make, so their contents are not held here.
	 */
	if (s.type == KCR_SEC_PAGES || s.type == KCR_SEC_GHOST || s.type == KCR_SEC_MEMFD)
		return 0;
	if (s.size > KCR_MAX_META_SECTION || s.size > KCR_MAX_META_TOTAL - img->meta_bytes) {
		kcr_set_reason(why, "section type %u too large (%llu bytes)", s.type, s.size);
		return -EFBIG;
	}
	img->meta_bytes += s.size;
	/* One extra zero byte so string payloads are always terminated. */
	ls->data = kvzalloc(s.size + 1, GFP_KERNEL_ACCOUNT);
	if (!ls->data)
		return -ENOMEM;
	err = kcr_read_exact(img->file, ls->data, s.size, payload);
	if (err) {
		kcr_set_reason(why, "image truncated in section type %u", s.type);
		return -EBADMSG;
	}
	if (kcr_hash(ls->data, s.size, 0) != s.checksum) {
		kcr_set_reason(why, "checksum mismatch in section type %u (corrupt image)", s.type);
		return -EBADMSG;
	}
	return 0;
}

int kcr_image_load(struct kcr_loaded_image *img, struct file *file, struct kcr_reason *why)
{
	loff_t pos = KCR_HEADER_SIZE;
	bool end = false;
	u32 n = 0;
	int err;

	memset(img, 0, sizeof(*img));
	img->file = file;
	img->size = i_size_read(file_inode(file));
	if (img->size < KCR_HEADER_SIZE) {
		kcr_set_reason(why, "image too short (%lld bytes)", img->size);
		return -EBADMSG;
	}
	err = kcr_read_exact(file, &img->hdr, sizeof(img->hdr), 0);
	if (err)
		return err;
	err = kcr_header_check(img, why);
	if (err)
		return err;
	while (!end) {
		if (++n > KCR_SEC_MAX || pos >= img->size) {
			kcr_set_reason(why, "image has no end section (truncated)");
			return -EBADMSG;
		}
		err = kcr_section_load(img, &pos, &end, why);
		if (err)
			return err;
	}
	if (pos != img->size || n != img->hdr.nr_sections) {
		kcr_set_reason(why, "image has trailing data or a wrong section count");
		return -EBADMSG;
	}
	return 0;
}

void kcr_image_free(struct kcr_loaded_image *img)
{
	int i;

	for (i = 0; i < KCR_SEC_MAX; i++) {
		kvfree(img->sec[i].data);
		img->sec[i].data = NULL;
	}
}
