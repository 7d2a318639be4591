/* Included before hasher.c for test_hasher: a thread woken from
 * pthread_cond_wait that is slow to get the mutex back, as POSIX allows and
 * a busy scheduler does (another thread may take the mutex in between).
 * It widens the windows in which a worker sees the waiting caller's state. */
#include <pthread.h>
#include <unistd.h>
static inline int slow_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	int r = pthread_cond_wait(c, m);
	pthread_mutex_unlock(m);
	usleep(150000);
	pthread_mutex_lock(m);
	return r;
}
#define pthread_cond_wait slow_cond_wait
