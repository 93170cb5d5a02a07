/* viewer_xprobe TIMEOUT_S RRGGBB X,Y [X,Y...]: polls the X root window every 2 ms until every
 * given point shows colour RRGGBB; prints the milliseconds that took. Started together with a
 * viewer, it measures time to first full frame the same way for any viewer (ours, TigerVNC). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: viewer_xprobe TIMEOUT_S RRGGBB X,Y...\n"); return 2; }
  double t0 = now(), limit = atof(argv[1]) * 1e3;
  unsigned long want = strtoul(argv[2], NULL, 16);
  Display *d = XOpenDisplay(NULL);
  if (!d) { fprintf(stderr, "viewer_xprobe: no display\n"); return 1; }
  Window root = DefaultRootWindow(d);
  int n = argc - 3;
  while (now() - t0 < limit) {
    int ok = 1;
    for (int i = 0; i < n && ok; ++i) {
      int x = 0, y = 0;
      sscanf(argv[3 + i], "%d,%d", &x, &y);
      XImage *img = XGetImage(d, root, x, y, 1, 1, AllPlanes, ZPixmap);
      if (!img) { ok = 0; break; }
      ok = (XGetPixel(img, 0, 0) & 0xFFFFFF) == want;
      XDestroyImage(img);
    }
    if (ok) { printf("%.0f\n", now() - t0); return 0; }
    usleep(2000);
  }
  printf("timeout\n");
  return 1;
}
