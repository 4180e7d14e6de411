/* mcfast: the dispatch table's entry of one (dtype, instruction set) instantiation.
 *
 * Re-included by mc_levels.h (from mc_kern.h) with the parameters of its list; defines
 * mc_kern_<dtype>_<level>, the kernels of that instantiation by name.
 */
static const MC_CAT(mc_kern_, MC_TN) MC_CAT(mc_kern_, MC_SFX) = {
    .group = MC_CAT(mc_grp_, MC_SFX),
    .group_f = MC_CAT3(mc_grp_, MC_SFX, _f),
    .multinomial = MC_CAT3(mc_grp_, MC_SFX, _mn),
    .classes = MC_HAVE_GROUP ? MC_MN_CLASSES(MC_W) : 0,
    .mv = MC_CAT3(mc_rows_, MC_SFX, _mv),
    .rmv = MC_CAT3(mc_rows_, MC_SFX, _rmv),
    .hook = MC_CAT(mc_hook_, MC_SFX),
    .sum = MC_CAT3(mc_rows_, MC_SFX, _sum),
};
