/*
 * lline.c - logical lines of configuration text (grammar in lline.h).
 *
 * One physical line of look-ahead: a logical line ends only when the
 * next non-comment line does not start with white space, so that line
 * is kept for the next call.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lline.h"
#include "mymalloc.h"
#include "stream.h"

#define LLINE_SPACE " \t\f\v\r"

struct lline {
    stream_t *stream; /* a file, or */
    const char *text; /* in-memory text */
    char *path;
    size_t max;
    int lineno;    /* last physical line read */
    str_t *phys;   /* look-ahead physical line */
    int have_phys; /* phys holds an unused line */
};

/* lline_new - the common part of the constructors */
static lline_t *lline_new(const char *path, size_t max)
{
    lline_t *lr = mr_calloc(1, sizeof(*lr));

    lr->path = mr_strdup(path);
    lr->max = max;
    lr->phys = str_new(256);
    return lr;
}

lline_t *lline_fd(int fd, const char *path, size_t max)
{
    lline_t *lr = lline_new(path, max);

    lr->stream = stream_open(fd);
    return lr;
}

lline_t *lline_text(const char *text, const char *path, size_t max)
{
    lline_t *lr = lline_new(path, max);

    lr->text = text;
    return lr;
}

lline_t *lline_open(const char *path, size_t max, str_t *err)
{
    struct stat st;
    int fd;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
	str_printf(err, "%s: %s", path, strerror(errno));
	return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
	str_printf(err, "%s: not a regular file", path);
	close(fd);
	return NULL;
    }
    return lline_fd(fd, path, max);
}

const char *lline_path(const lline_t *lr)
{
    return lr->path;
}

void lline_close(lline_t **lrp)
{
    lline_t *lr = *lrp;

    if (lr == NULL)
	return;
    if (lr->stream)
	stream_close(&lr->stream);
    str_free(&lr->phys);
    mr_free(lr->path);
    mr_free(lr);
    *lrp = NULL;
}

/* lline_read_text - one physical line from memory: STREAM_* result */
static int lline_read_text(lline_t *lr)
{
    size_t len = strcspn(lr->text, "\n");
    int whole = lr->text[len] == '\n';

    if (*lr->text == 0)
	return STREAM_EOF;
    if (len > lr->max) {
	str_setn(lr->phys, lr->text, lr->max);
	lr->text += len + whole;
	return STREAM_PARTIAL;
    }
    str_setn(lr->phys, lr->text, len + whole);
    lr->text += len + whole;
    return STREAM_LINE;
}

/* lline_trim_end - drop trailing white space (and a CR) */
static void lline_trim_end(str_t *s)
{
    while (str_len(s) > 0 && strchr(LLINE_SPACE, s->data[str_len(s) - 1]))
	str_truncate(s, str_len(s) - 1);
}

/* lline_phys - read one physical line into lr->phys; 1, 0 at end, -1 */
static int lline_phys(lline_t *lr, str_t *err)
{
    int r;

    str_reset(lr->phys);
    r = lr->stream ? stream_read_line(lr->stream, lr->phys, lr->max + 1) : lline_read_text(lr);
    if (r == STREAM_EOF)
	return 0;
    lr->lineno++;
    if (r == STREAM_ERROR) {
	str_printf(err, "%s:%d: read error", lr->path, lr->lineno);
	return -1;
    }
    if (str_len(lr->phys) > 0 && lr->phys->data[str_len(lr->phys) - 1] == '\n')
	str_truncate(lr->phys, str_len(lr->phys) - 1);
    if (r == STREAM_PARTIAL || str_len(lr->phys) > lr->max) {
	str_printf(err, "%s:%d: line longer than %zu bytes", lr->path, lr->lineno, lr->max);
	return -1;
    }
    if (memchr(str_data(lr->phys), 0, str_len(lr->phys)) != NULL) {
	str_printf(err, "%s:%d: NUL byte in line", lr->path, lr->lineno);
	return -1;
    }
    lline_trim_end(lr->phys);
    return 1;
}

/* lline_blank - blank or comment line */
static int lline_blank(const char *cp)
{
    cp += strspn(cp, LLINE_SPACE);
    return *cp == 0 || *cp == '#';
}

/* lline_join - append a continuation line; -1 if too long */
static int lline_join(lline_t *lr, str_t *line, int start, str_t *err)
{
    const char *more = str_data(lr->phys) + strspn(str_data(lr->phys), LLINE_SPACE);

    if (start == 0) {
	str_printf(err, "%s:%d: continuation line without a line to continue", lr->path,
		   lr->lineno);
	return -1;
    }
    if (str_len(line) + 1 + strlen(more) > lr->max) {
	str_printf(err, "%s:%d: logical line longer than %zu bytes", lr->path, start, lr->max);
	return -1;
    }
    str_appendc(line, ' ');
    str_appends(line, more);
    return 0;
}

int lline_next(lline_t *lr, str_t *line, int *lineno_r, str_t *err)
{
    int r, start = 0;

    str_reset(line);
    for (;;) {
	if (!lr->have_phys && (r = lline_phys(lr, err)) <= 0) {
	    if (r < 0)
		return -1;
	    break;
	}
	lr->have_phys = 0;
	if (lline_blank(str_data(lr->phys)))
	    continue;
	if (strchr(LLINE_SPACE, lr->phys->data[0]) != NULL) {
	    if (lline_join(lr, line, start, err) < 0)
		return -1;
	    continue;
	}
	if (start != 0) { /* the next logical line: keep it */
	    lr->have_phys = 1;
	    break;
	}
	start = lr->lineno;
	str_setn(line, str_data(lr->phys), str_len(lr->phys));
    }
    if (start == 0)
	return 0;
    *lineno_r = start;
    return 1;
}
