# Reference values for trialeval.comparison.twfe_event_study (tests/reference/test_twfe_reference.py).
#
# Run from the repository root:  Rscript tests/reference/make_reference_twfe.R
# Needs estimatr and plm (Debian: r-cran-estimatr, r-cran-plm). On plm's public Grunfeld data (10 firms,
# 1935-1954; written to grunfeld.csv), firms 1, 3, 5, 7 and 9 are given a programme start in 1943, 1945,
# 1945, 1947 and 1950 (made up for the test); event times outside -4..4 are binned into the ends, -1 is the
# reference. Writes, at full precision (%.17g):
#   twfe_reference.csv   lm_robust(inv ~ event dummies, fixed_effects = ~ firm + year, clusters = firm,
#                        se_type = "stata"), the plm within estimate for comparison, and the Wald test of the
#                        pre-period terms
suppressPackageStartupMessages({library(estimatr); library(plm)})
dir <- "tests/reference"
fmt <- function(df) {
  for (j in seq_along(df)) if (is.double(df[[j]])) df[[j]] <- ifelse(is.na(df[[j]]), NA, sprintf("%.17g", df[[j]]))
  df
}
data("Grunfeld", package = "plm")
g <- Grunfeld[, c("firm", "year", "inv")]
g$start <- c(`1` = 1943, `3` = 1945, `5` = 1945, `7` = 1947, `9` = 1950)[as.character(g$firm)]
write.csv(g, file.path(dir, "grunfeld.csv"), row.names = FALSE, na = "")
g <- read.csv(file.path(dir, "grunfeld.csv"))
ev <- pmin(pmax(g$year - g$start, -4), 4)
times <- setdiff(sort(unique(ev[!is.na(ev)])), -1)
names <- ifelse(times < 0, paste0("event_m", -times), paste0("event_", times))
for (i in seq_along(times)) g[[names[i]]] <- as.numeric(!is.na(ev) & ev == times[i])
f <- reformulate(names, response = "inv")
fit <- lm_robust(f, data = g, fixed_effects = ~ firm + year, clusters = firm, se_type = "stata")
within <- plm(f, data = pdata.frame(g, index = c("firm", "year")), model = "within", effect = "twoways")
pre <- names[times < 0]
b <- coef(fit)[pre]
chi2 <- as.numeric(t(b) %*% solve(vcov(fit)[pre, pre]) %*% b)
out <- data.frame(event_time = times, estimate = unname(coef(fit)[names]), se = unname(fit$std.error[names]),
                  df = unname(fit$df[names]), ci_low = unname(fit$conf.low[names]),
                  ci_high = unname(fit$conf.high[names]), p_value = unname(fit$p.value[names]),
                  plm_estimate = unname(coef(within)[names]), chi2 = chi2, chi2_df = length(pre),
                  chi2_p = pchisq(chi2, length(pre), lower.tail = FALSE))
write.csv(fmt(out), file.path(dir, "twfe_reference.csv"), row.names = FALSE, na = "")
