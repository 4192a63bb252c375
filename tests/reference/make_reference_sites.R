# Reference values for trialeval.sites and trialeval.explain (tests/reference/test_sites_reference.py).
#
# Run from the repository root:  Rscript tests/reference/make_reference_sites.R
# Needs R with estimatr and metafor (Debian: r-base-core, r-cran-estimatr, r-cran-metafor).
# Reads the committed inputs sites_panel.csv (persons x weeks 4 and 13 in 12 municipalities) and
# site_factors.csv, and writes at full precision (%.17g):
#   sites_reference_sites.csv       per-site difference in means at week 13 (small sites pooled into "other")
#   sites_reference_meta.csv        Cochran's Q, I2, tau2 and the DerSimonian-Laird pooled estimate (metafor)
#   sites_reference_subgroups.csv   subgroup effects and the HC2 Wald test of the interaction terms
#   sites_reference_explain.csv     lm_robust(HC2) of the site share on fidelity (and weighted by n), R2 from lm
#   sites_reference_person.csv      lm_robust(HC2) of the outcome at week 13 on background covariates
#   sites_reference_person_ever.csv lm_robust(HC2) of "ever by week 13" (some persons not observed at 13)
suppressPackageStartupMessages({library(estimatr); library(metafor)})
dir <- "tests/reference"
fmt <- function(df) {
  for (j in seq_along(df)) if (is.double(df[[j]])) df[[j]] <- ifelse(is.na(df[[j]]), NA, sprintf("%.17g", df[[j]]))
  df
}
write_full <- function(df, file) write.csv(fmt(df), file.path(dir, file), row.names = FALSE, na = "")
panel <- read.csv(file.path(dir, "sites_panel.csv"), stringsAsFactors = FALSE)
factors <- read.csv(file.path(dir, "site_factors.csv"), stringsAsFactors = FALSE)
min_cell <- 5
wk <- panel[panel$week == 13, ]
wk$t <- as.numeric(wk$arm == "treatment")

# ---- per site, small sites pooled ---------------------------------------------------------------
small_site <- function(d) {          # fewer than 5 persons in an arm, or fewer than 5 with / without
  n1 <- sum(d$t == 1); n0 <- sum(d$t == 0)
  k1 <- sum(d$in_company[d$t == 1]); k0 <- sum(d$in_company[d$t == 0])
  any(c(n1, n0) < min_cell) || any(c(k1, n1 - k1, k0, n0 - k0) > 0 & c(k1, n1 - k1, k0, n0 - k0) < min_cell)
}
small <- sapply(split(wk, wk$municipality), small_site)
wk$site <- ifelse(small[wk$municipality], "other", wk$municipality)
other_small <- small_site(wk[wk$site == "other", ])
shown <- if (other_small) setdiff(sort(unique(wk$site)), "other") else sort(unique(wk$site))
rows <- lapply(shown, function(s) {
  d <- wk[wk$site == s, ]
  f <- difference_in_means(in_company ~ t, data = d)
  data.frame(site = s, n_treatment = sum(d$t == 1), n_control = sum(d$t == 0), effect = unname(f$coefficients),
             se = unname(f$std.error), df = unname(f$df), ci_low = unname(f$conf.low),
             ci_high = unname(f$conf.high), p_value = unname(f$p.value))
})
sites <- do.call(rbind, rows)
write_full(sites, "sites_reference_sites.csv")

m <- rma(yi = sites$effect, vi = sites$se^2, method = "DL")
write_full(data.frame(k = m$k, q = m$QE, df = m$k - 1, p_value = m$QEp, i2 = m$I2 / 100, tau2 = m$tau2,
                      estimate = as.numeric(m$b), se = m$se, ci_low = m$ci.lb, ci_high = m$ci.ub,
                      n_hidden = if (other_small) sum(small) else 0),
           "sites_reference_meta.csv")

# ---- subgroups: effect per level and the HC2 Wald test of the interaction terms ------------------
sub <- do.call(rbind, lapply(c("gender", "age_band", "prior_hours"), function(cov) {
  g <- factor(as.character(wk[[cov]]))
  fit <- lm_robust(in_company ~ t * g, data = data.frame(in_company = wk$in_company, t = wk$t, g = g), se_type = "HC2")
  inter <- grep("^t:g", names(coef(fit)))
  b <- coef(fit)[inter]
  chi2 <- as.numeric(t(b) %*% solve(vcov(fit)[inter, inter]) %*% b)
  effects <- sapply(levels(g), function(l) {
    d <- wk[g == l, ]
    unname(coef(difference_in_means(in_company ~ t, data = d)))
  })
  ses <- sapply(levels(g), function(l) {
    d <- wk[g == l, ]
    unname(difference_in_means(in_company ~ t, data = d)$std.error)
  })
  data.frame(covariate = cov, subgroup = levels(g), effect = effects, se = ses, chi2 = chi2,
             df = length(inter), p_value = pchisq(chi2, length(inter), lower.tail = FALSE))
}))
sub$p_holm <- sub$p_value
tests <- unique(sub[, c("covariate", "p_value")])
tests$p_holm <- p.adjust(tests$p_value, "holm")
sub$p_holm <- tests$p_holm[match(sub$covariate, tests$covariate)]
write_full(sub, "sites_reference_subgroups.csv")

# ---- site-level regression: the programme group's share at week 13 on fidelity --------------------
prog <- wk[wk$t == 1, ]
share <- aggregate(in_company ~ municipality, data = prog, FUN = mean)
n <- aggregate(in_company ~ municipality, data = prog, FUN = length)
names(n)[2] <- "n"
site <- merge(merge(share, n), factors)
site <- site[site$n >= min_cell, ]
one <- function(fit, r2, label) {
  data.frame(model = label, term = names(coef(fit)), estimate = unname(coef(fit)), se = unname(fit$std.error),
             df = unname(fit$df), p_value = unname(fit$p.value), ci_low = unname(fit$conf.low),
             ci_high = unname(fit$conf.high), r2 = r2, n = nrow(site))
}
plain <- lm_robust(in_company ~ fidelity, data = site, se_type = "HC2")
weighted <- lm_robust(in_company ~ fidelity + belief, data = site, weights = n, se_type = "HC2")
write_full(rbind(one(plain, summary(lm(in_company ~ fidelity, data = site))$r.squared, "plain"),
                 one(weighted, summary(lm(in_company ~ fidelity + belief, data = site, weights = n))$r.squared,
                     "weighted")),
           "sites_reference_explain.csv")

# ---- person-level regression on background covariates -----------------------------------------
person <- lm_robust(in_company ~ gender + age_band + prior_hours, data = wk, se_type = "HC2")
write_full(data.frame(term = names(coef(person)), estimate = unname(coef(person)), se = unname(person$std.error),
                      p_value = unname(person$p.value), r2 = person$r.squared, n = nrow(wk)),
           "sites_reference_person.csv")

# ---- person-level regression of "ever by week 13" (persons whose id ends in 7 are not observed at week 13:
# they are left out; "ever" is any positive value in the weeks observed from 1 to 13) -----------------
cens <- panel
cens$in_company[cens$week == 13 & grepl("7$", cens$person_id)] <- NA
at <- cens[cens$week == 13 & !is.na(cens$in_company), ]
window <- cens[cens$week >= 1 & cens$week <= 13 & !is.na(cens$in_company), ]
reached <- tapply(window$in_company > 0, window$person_id, any)
at$ever <- as.numeric(reached[at$person_id])
ever_fit <- lm_robust(ever ~ gender + age_band + prior_hours, data = at, se_type = "HC2")
write_full(data.frame(term = names(coef(ever_fit)), estimate = unname(coef(ever_fit)),
                      se = unname(ever_fit$std.error), df = unname(ever_fit$df), p_value = unname(ever_fit$p.value),
                      ci_low = unname(ever_fit$conf.low), ci_high = unname(ever_fit$conf.high),
                      r2 = ever_fit$r.squared, n = nrow(at), mean_ever = mean(at$ever)),
           "sites_reference_person_ever.csv")
