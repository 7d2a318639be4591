"""A tiny test harness: one line per test, a closing 'N passed, N failed'."""
import sys, traceback

class Tests:
    def __init__(self, suite):
        self.suite, self.passed, self.failed, self.skipped = suite, 0, 0, 0

    def run(self, name, fn, *args):
        try:
            fn(*args)
        except Skip as s:
            self.skipped += 1
            print("skip %s: %s: %s" % (self.suite, name, s))
        except AssertionError as e:
            self.failed += 1
            print("FAIL %s: %s: %s" % (self.suite, name, e))
        except Exception:
            self.failed += 1
            print("FAIL %s: %s: %s" % (self.suite, name, traceback.format_exc().strip().splitlines()[-1]))
        else:
            self.passed += 1
            print("ok   %s: %s" % (self.suite, name))
        sys.stdout.flush()

    def done(self):
        print("%s: %d passed, %d failed, %d skipped" % (self.suite, self.passed, self.failed, self.skipped))
        return 1 if self.failed else 0

class Skip(Exception):
    pass
