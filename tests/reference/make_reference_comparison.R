# Reference values for trialeval.comparison (tests/reference/test_comparison_reference.py).
#
# Run from the repository root:  R_LIBS=<library with MatchIt >= 4.5.4> Rscript tests/reference/make_reference_comparison.R
# Needs estimatr and MatchIt >= 4.5.4 built from its repository (see make_reference_matching.R).
# On MatchIt's public lalonde data (tests/reference/lalonde.csv): a 1:2 nearest-neighbour match with a caliper
# (so the comparison weights differ), then, at full precision (%.17g):
#   comparison_matched.csv            the matched rows: row, treat, weights, subclass (the match id)
#   comparison_reference_dim.csv      lm_robust(re78 ~ treat, weights, clusters = subclass, se_type = "CR2")
#   comparison_reference_event.csv    the stacked event study on re74 (-2), re75 (-1), re78 (1): raw and as
#                                     changes from the baseline mean of -2..-1, with the Wald pre-trend tests
suppressPackageStartupMessages({library(MatchIt); library(estimatr)})
stopifnot(packageVersion("MatchIt") >= "4.5.4")
dir <- "tests/reference"
fmt <- function(df) {
  for (j in seq_along(df)) if (is.double(df[[j]])) df[[j]] <- ifelse(is.na(df[[j]]), NA, sprintf("%.17g", df[[j]]))
  df
}
write_full <- function(df, file) write.csv(fmt(df), file.path(dir, file), row.names = FALSE, na = "")
lalonde <- read.csv(file.path(dir, "lalonde.csv"))
lalonde$row <- seq_len(nrow(lalonde))
m <- matchit(treat ~ age + educ + race + married + nodegree + re74 + re75, data = lalonde, method = "nearest",
             distance = "glm", link = "linear.logit", ratio = 2, caliper = 0.25)
md <- match.data(m)
write_full(data.frame(row = md$row, treat = md$treat, weights = md$weights, subclass = as.integer(md$subclass)),
           "comparison_matched.csv")
md <- read.csv(file.path(dir, "comparison_matched.csv"))
md$re78 <- lalonde$re78[md$row]; md$re74 <- lalonde$re74[md$row]; md$re75 <- lalonde$re75[md$row]

one <- function(fit, label) {
  data.frame(model = label, term = names(coef(fit)), estimate = unname(coef(fit)), se = unname(fit$std.error),
             df = unname(fit$df), ci_low = unname(fit$conf.low), ci_high = unname(fit$conf.high),
             p_value = unname(fit$p.value))
}
dim <- lm_robust(re78 ~ treat, data = md, weights = weights, clusters = subclass, se_type = "CR2")
odds <- lalonde
ps <- fitted(glm(treat ~ age + educ + race + married + nodegree + re74 + re75, data = lalonde, family = binomial))
odds$w <- ifelse(odds$treat == 1, 1, ps / (1 - ps))
att <- lm_robust(re78 ~ treat, data = odds, weights = w, clusters = row, se_type = "CR2")
write_full(rbind(one(dim, "matched_1to2"), one(att, "att_odds_weights")), "comparison_reference_dim.csv")

long <- rbind(data.frame(md[, c("row", "treat", "weights", "subclass")], week = -2, y = md$re74),
              data.frame(md[, c("row", "treat", "weights", "subclass")], week = -1, y = md$re75),
              data.frame(md[, c("row", "treat", "weights", "subclass")], week = 1, y = md$re78))
long$period <- factor(long$week)
raw <- lm_robust(y ~ 0 + period + period:treat, data = long, weights = weights, clusters = subclass, se_type = "CR2")
pre <- c("period-2:treat", "period-1:treat")
b <- coef(raw)[pre]; chi2_raw <- as.numeric(t(b) %*% solve(vcov(raw)[pre, pre]) %*% b)
long$base <- ave(ifelse(long$week < 0, long$y, NA), long$row, FUN = function(v) mean(v, na.rm = TRUE))
change <- long[long$week != -1, ]
change$y <- change$y - change$base
change$period <- factor(change$week)
did <- lm_robust(y ~ 0 + period + period:treat, data = change, weights = weights, clusters = subclass, se_type = "CR2")
b2 <- coef(did)["period-2:treat"]; chi2_did <- as.numeric(b2^2 / vcov(did)["period-2:treat", "period-2:treat"])
ev <- rbind(cbind(one(raw, "raw"), chi2 = chi2_raw, chi2_df = 2), cbind(one(did, "baseline_2"), chi2 = chi2_did, chi2_df = 1))
ev <- ev[grepl(":treat", ev$term), ]
ev$week <- as.integer(sub("period(-?[0-9]+):treat", "\\1", ev$term))
ev$chi2_p <- pchisq(ev$chi2, ev$chi2_df, lower.tail = FALSE)
write_full(ev, "comparison_reference_event.csv")
cat("toy:", format(unlist(lapply(list(lm_robust(y ~ x, data = data.frame(y = c(3, 4, 5, 1, 2, 2), x = c(1, 1, 1, 0, 0, 0),
                                                    g = c(1, 2, 3, 1, 2, 3)), clusters = g, se_type = "CR2")),
                          function(f) c(coef(f), vcov(f)[2, 2]))), digits = 10), "\n")
