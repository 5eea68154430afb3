//go:build cgo && !nousb

// usbdevfs emulation of a finger-vein scanner for umockdev's in-process
// ioctl handler (UMockdevIoctlBase "handle-ioctl", umockdev >= 0.16).
// Bulk OUT URBs go to the Go device model at once; bulk IN URBs wait in a
// queue until the model has bytes for them; control URBs (string
// descriptors) are answered by Go. While the model is unplugged every
// ioctl fails with ENODEV, as the kernel's usbfs does.
#include <umockdev.h>
#include <linux/usbdevice_fs.h>
#include <sys/ioctl.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "umockusb.h"
#include "_cgo_export.h"

typedef struct {
	UMockdevIoctlData *urb; /* our reference */
	UMockdevIoctlData *buf; /* our reference, may be NULL for empty buffers */
} vs_urb;

struct vs_dev {
	uintptr_t handle;     /* cgo.Handle of the Go emulation */
	GQueue in_wait;       /* IN URBs waiting for device data */
	GQueue done;          /* completed URBs waiting to be reaped */
	UMockdevIoctlBase *base;
};

static void vs_urb_free(vs_urb *u)
{
	if (u->buf)
		umockdev_ioctl_data_unref(u->buf);
	umockdev_ioctl_data_unref(u->urb);
	g_free(u);
}

static struct usbdevfs_urb *urb_of(vs_urb *u) { return (struct usbdevfs_urb *) u->urb->data; }

static unsigned char *buf_of(vs_urb *u) { return u->buf ? u->buf->data : NULL; }

/* fill_in completes the oldest waiting IN URB if the model has data. */
static void fill_in(struct vs_dev *d)
{
	while (!g_queue_is_empty(&d->in_wait)) {
		vs_urb *u = g_queue_peek_head(&d->in_wait);
		struct usbdevfs_urb *urb = urb_of(u);
		int n = vsGoIn(d->handle, urb->endpoint, buf_of(u), urb->buffer_length);
		if (n < 0)
			return; /* nothing yet */
		g_queue_pop_head(&d->in_wait);
		urb->status = 0;
		urb->actual_length = n;
		g_queue_push_tail(&d->done, u);
	}
}

static void drop_all(struct vs_dev *d)
{
	vs_urb *u;
	while ((u = g_queue_pop_head(&d->in_wait)))
		vs_urb_free(u);
	while ((u = g_queue_pop_head(&d->done)))
		vs_urb_free(u);
}

static gboolean on_ioctl(UMockdevIoctlBase *base, UMockdevIoctlClient *c, gpointer user)
{
	struct vs_dev *d = user;
	gulong req = umockdev_ioctl_client_get_request(c);
	UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(c);
	gsize size = (req >> _IOC_SIZESHIFT) & _IOC_SIZEMASK;
	GError *err = NULL;
	UMockdevIoctlData *data = NULL;

	if (!vsGoPlugged(d->handle)) {
		drop_all(d);
		umockdev_ioctl_client_complete(c, -1, ENODEV);
		return TRUE;
	}
	if (size > 0) {
		data = umockdev_ioctl_data_resolve(arg, 0, size, &err);
		if (err) {
			g_warning("umockusb: resolving ioctl data: %s", err->message);
			g_error_free(err);
			umockdev_ioctl_client_complete(c, -1, EFAULT);
			return TRUE;
		}
	}

	switch (req) {
	case USBDEVFS_GET_CAPABILITIES:
		*(guint32 *) data->data = USBDEVFS_CAP_ZERO_PACKET | USBDEVFS_CAP_NO_PACKET_SIZE_LIM |
		                          USBDEVFS_CAP_REAP_AFTER_DISCONNECT;
		umockdev_ioctl_client_complete(c, 0, 0);
		break;
	case USBDEVFS_CLAIMINTERFACE:
	case USBDEVFS_RELEASEINTERFACE:
	case USBDEVFS_CLEAR_HALT:
	case USBDEVFS_RESETEP:
	case USBDEVFS_SETINTERFACE:
	case USBDEVFS_SETCONFIGURATION:
		umockdev_ioctl_client_complete(c, 0, 0);
		break;
	case USBDEVFS_RESET:
		drop_all(d);
		vsGoReset(d->handle);
		umockdev_ioctl_client_complete(c, 0, 0);
		break;
	case USBDEVFS_DISCARDURB: {
		gulong addr = *(gulong *) arg->data;
		gboolean found = FALSE;
		for (GList *l = d->in_wait.head; l; l = l->next) {
			vs_urb *u = l->data;
			if (u->urb->client_addr == addr) {
				g_queue_delete_link(&d->in_wait, l);
				urb_of(u)->status = -ENOENT;
				urb_of(u)->actual_length = 0;
				g_queue_push_tail(&d->done, u);
				found = TRUE;
				break;
			}
		}
		umockdev_ioctl_client_complete(c, found ? 0 : -1, found ? 0 : EINVAL);
		break;
	}
	case USBDEVFS_SUBMITURB: {
		struct usbdevfs_urb *urb = (struct usbdevfs_urb *) data->data;
		vs_urb *u = g_new0(vs_urb, 1);
		u->urb = data;
		data = NULL; /* the URB keeps our reference */
		if (urb->buffer_length > 0) {
			u->buf = umockdev_ioctl_data_resolve(u->urb, offsetof(struct usbdevfs_urb, buffer), urb->buffer_length, &err);
			if (err) {
				g_warning("umockusb: resolving URB buffer: %s", err->message);
				g_error_free(err);
				vs_urb_free(u);
				umockdev_ioctl_client_complete(c, -1, EFAULT);
				break;
			}
		}
		if (urb->type == USBDEVFS_URB_TYPE_CONTROL) {
			int n = urb->buffer_length >= 8 ? vsGoControl(d->handle, buf_of(u), urb->buffer_length) : -EPIPE;
			urb->status = n < 0 ? n : 0;
			urb->actual_length = n < 0 ? 0 : n;
			g_queue_push_tail(&d->done, u);
		} else if (urb->type != USBDEVFS_URB_TYPE_BULK) {
			urb->status = -EPIPE;
			urb->actual_length = 0;
			g_queue_push_tail(&d->done, u);
		} else if (!(urb->endpoint & 0x80)) {
			int r = vsGoOut(d->handle, urb->endpoint, buf_of(u), urb->buffer_length);
			urb->status = r < 0 ? r : 0;
			urb->actual_length = r < 0 ? 0 : urb->buffer_length;
			g_queue_push_tail(&d->done, u);
		} else {
			g_queue_push_tail(&d->in_wait, u);
		}
		umockdev_ioctl_client_complete(c, 0, 0);
		break;
	}
	case USBDEVFS_REAPURB:
	case USBDEVFS_REAPURBNDELAY: {
		if (g_queue_is_empty(&d->done))
			fill_in(d);
		vs_urb *u = g_queue_pop_head(&d->done);
		if (!u) {
			umockdev_ioctl_client_complete(c, -1, EAGAIN);
			break;
		}
		umockdev_ioctl_data_set_ptr(data, 0, u->urb); /* takes its own reference */
		vs_urb_free(u);
		umockdev_ioctl_client_complete(c, 0, 0);
		break;
	}
	default:
		umockdev_ioctl_client_complete(c, -1, ENOTTY);
	}
	if (data)
		umockdev_ioctl_data_unref(data);
	return TRUE;
}

static UMockdevTestbed *testbed;

int vs_testbed(char **root, char **errmsg)
{
	if (!testbed)
		testbed = umockdev_testbed_new();
	if (!testbed) {
		*errmsg = g_strdup("umockdev_testbed_new failed");
		return -1;
	}
	*root = umockdev_testbed_get_root_dir(testbed);
	return 0;
}

struct vs_dev *vs_attach(uintptr_t handle, const char *descr, const char *devnode, char **errmsg)
{
	GError *err = NULL;
	char *root = NULL;
	if (vs_testbed(&root, errmsg) != 0)
		return NULL;
	g_free(root);
	if (!umockdev_testbed_add_from_string(testbed, descr, &err)) {
		*errmsg = g_strdup(err->message);
		g_error_free(err);
		return NULL;
	}
	struct vs_dev *d = g_new0(struct vs_dev, 1);
	d->handle = handle;
	g_queue_init(&d->in_wait);
	g_queue_init(&d->done);
	d->base = umockdev_ioctl_base_new();
	g_signal_connect(d->base, "handle-ioctl", G_CALLBACK(on_ioctl), d);
	if (!umockdev_testbed_attach_ioctl(testbed, devnode, d->base, &err)) {
		*errmsg = g_strdup(err->message);
		g_error_free(err);
		g_object_unref(d->base);
		g_free(d);
		return NULL;
	}
	return d;
}

void vs_free(char *p) { g_free(p); }

/* vs_remove_testbed drops the testbed, which removes its directory. Only
 * for process exit: attached handlers keep running until then. */
void vs_remove_testbed(void)
{
	if (testbed) {
		g_object_unref(testbed);
		testbed = NULL;
	}
}
