/* xtype TEXT: types TEXT (\t = Tab, \n = Return) and Return into the X display's focused window through the XTEST
 * extension (real X key events, as a keyboard would make them), moving the pointer to the
 * screen's centre first. Stands in for xdotool, which this machine's package set lacks.
 * libXtst's header is not installed (only the library), so its two calls are declared here. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <X11/Xlib.h>
#include <X11/keysym.h>
#include <X11/XKBlib.h>

extern int XTestFakeKeyEvent(Display *, unsigned int, Bool, unsigned long);
extern int XTestFakeMotionEvent(Display *, int, int, int, unsigned long);

static void key(Display *d, KeySym sym) {
  KeyCode code = XKeysymToKeycode(d, sym);
  if (code == 0) { fprintf(stderr, "xtype: no key for keysym 0x%lx\n", sym); return; }
  /* needs Shift if the keysym sits at level 1 of its key */
  int shift = XkbKeycodeToKeysym(d, code, 0, 0) != sym;
  KeyCode sh = XKeysymToKeycode(d, XK_Shift_L);
  if (shift) XTestFakeKeyEvent(d, sh, True, 0);
  XTestFakeKeyEvent(d, code, True, 0);
  XTestFakeKeyEvent(d, code, False, 0);
  if (shift) XTestFakeKeyEvent(d, sh, False, 0);
  XSync(d, False);
  usleep(30000); /* a typist, not a paste: the guest's TCG keyboard keeps up */
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: xtype TEXT\n"); return 2; }
  Display *d = XOpenDisplay(NULL);
  if (!d) { fprintf(stderr, "xtype: cannot open display\n"); return 1; }
  int s = DefaultScreen(d);
  XTestFakeMotionEvent(d, s, DisplayWidth(d, s) / 2, DisplayHeight(d, s) / 2, 0);
  XSync(d, False);
  usleep(100000);
  for (const char *p = argv[1]; *p; ++p) {
    if (*p == '\t') key(d, XK_Tab);
    else if (*p == '\n') key(d, XK_Return);
    else key(d, (KeySym)(unsigned char)*p);
  }
  key(d, XK_Return);
  XCloseDisplay(d);
  return 0;
}
