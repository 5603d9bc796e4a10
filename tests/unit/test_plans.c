/* SPDX-License-Identifier: MIT */
/* Plans: items planned alike hold one plan, replaced and let go by count; a refused plan changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "dist/internal.h"
#include "lua/sandbox.h"

static struct sl_lua_wave lwave(const char *audience, long long size)
{
    struct sl_lua_wave w;
    memset(&w, 0, sizeof(w));
    snprintf(w.audience, sizeof(w.audience), "%s", audience);
    w.size_ok = true;
    w.size = size;
    return w;
}

/* Two items planned alike hold one plan (and the kept slot a third hold);
 * a plan that differs in one wave's size is another; an item planned
 * again lets its plan before go. */
static void test_alike_share(void **state)
{
    struct sl_dist *d = calloc(1, sizeof(*d));
    struct ditem a = { 0 }, b = { 0 }, c = { 0 };
    struct sl_lua_wave one[2] = { lwave("followers", 10), lwave("everyone", 100) };
    struct sl_lua_wave two[2] = { lwave("followers", 10), lwave("everyone", 101) };
    char err[128];
    (void)state;

    assert_non_null(d);
    assert_int_equal(dist_plan_take(d, one, 2, &a, err, sizeof(err)), 0);
    assert_int_equal(dist_plan_take(d, one, 2, &b, err, sizeof(err)), 0);
    assert_ptr_equal(a.plan, b.plan);
    assert_int_equal(a.plan->refs, 3);
    assert_int_equal(a.plan->n, 2);
    assert_string_equal(a.plan->wave[1].audience, "everyone");
    assert_int_equal(a.plan->wave[1].size, 100);
    assert_int_equal(a.plan->wave[1].limit_s, 3600);     /* the default filled in */

    assert_int_equal(dist_plan_take(d, two, 2, &c, err, sizeof(err)), 0);
    assert_ptr_not_equal(c.plan, a.plan);
    assert_int_equal(c.plan->wave[1].size, 101);

    struct plan *old = a.plan;
    assert_int_equal(dist_plan_take(d, two, 2, &a, err, sizeof(err)), 0);
    assert_int_equal(old->refs, 2);                     /* b and its slot */
    assert_true(a.plan->wave[1].size == 101);

    /* The built-in plan is shared the same way. */
    assert_int_equal(dist_plan_default(d, &a), 0);
    assert_int_equal(dist_plan_default(d, &b), 0);
    assert_ptr_equal(a.plan, b.plan);
    assert_int_equal(a.plan->wave[0].size, 1000);

    dist_plan_set(&a, NULL);
    dist_plan_set(&b, NULL);
    dist_plan_set(&c, NULL);
    dist_plans_free(d);
    free(d);
}

/* A refused answer leaves the item's plan as it was. */
static void test_refused_keeps(void **state)
{
    struct sl_dist *d = calloc(1, sizeof(*d));
    struct ditem a = { 0 };
    struct sl_lua_wave one[1] = { lwave("followers", 10) };
    struct sl_lua_wave bad[1] = { lwave("somewhere", 10) };
    char err[256];
    (void)state;

    assert_non_null(d);
    assert_int_equal(dist_plan_take(d, one, 1, &a, err, sizeof(err)), 0);
    struct plan *p = a.plan;
    assert_int_equal(dist_plan_take(d, bad, 1, &a, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "plan wave 1 must be"));
    assert_int_equal(dist_plan_take(d, one, 0, &a, err, sizeof(err)), -EINVAL);
    assert_ptr_equal(a.plan, p);
    assert_int_equal(p->refs, 2);
    dist_plan_set(&a, NULL);
    dist_plans_free(d);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alike_share),
        cmocka_unit_test(test_refused_keeps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
