# Reference values for trialeval.effects (tests/reference/test_effects_reference.py).
#
# Run from the repository root:  Rscript tests/reference/make_reference_effects.R
# Needs R with estimatr (Debian: r-base-core, r-cran-estimatr). Writes, at full precision (%.17g):
#   effects_panel.csv            person-randomised panel: 3 weeks x 2 outcomes, blocks, covariates
#   effects_panel_clustered.csv  cluster-randomised panel
#   effects_reference.csv        estimatr / t.test results per design, outcome and week
#   effects_dropped_blocks.csv   block-weeks left out of the blocked estimate (an arm with < 2 persons)
# The inputs are simulated here, written, and read back, so R computes on exactly the doubles Python reads.
suppressPackageStartupMessages(library(estimatr))
set.seed(20240605)
dir <- "tests/reference"
fmt <- function(df) {
  for (j in seq_along(df)) if (is.double(df[[j]])) df[[j]] <- ifelse(is.na(df[[j]]), NA, sprintf("%.17g", df[[j]]))
  df
}
write_full <- function(df, file) write.csv(fmt(df), file.path(dir, file), row.names = FALSE, na = "")

# ---- person-randomised panel ---------------------------------------------------------------------
P <- 120
person <- sprintf("p%03d", 1:P)
block <- rep(c("b1", "b2", "b3", "b4", "b5"), length.out = P)
arm <- ave(seq_len(P), block, FUN = function(i) sample(rep(c(1, 0), length.out = length(i))))
x1 <- round(rnorm(P, 40, 8), 1)
x2 <- sample(c("a", "b", "c"), P, replace = TRUE)
last_week <- sample(1:3, P, replace = TRUE, prob = c(0.15, 0.15, 0.7))
# Block b5 loses all but one of its treated persons after week 2 (estimatr would stop on it).
b5t <- which(block == "b5" & arm == 1)
last_week[b5t] <- 2
last_week[b5t[1]] <- 3
rows <- do.call(rbind, lapply(1:3, function(w) {
  keep <- last_week >= w
  data.frame(person_id = person[keep], arm = ifelse(arm[keep] == 1, "treatment", "control"), week = w,
             block = block[keep], x1 = x1[keep], x2 = x2[keep], stringsAsFactors = FALSE)
}))
n <- nrow(rows)
tr <- rows$arm == "treatment"
rows$y <- 10 + 0.2 * rows$x1 + ifelse(rows$x2 == "b", 3, 0) + tr * rows$week * 1.5 + rnorm(n, 0, 2 + 2 * tr)
rows$z <- as.numeric(runif(n) < plogis(-1 + 0.6 * tr + 0.03 * (rows$x1 - 40)))
rows$y[sample(n, 6)] <- NA      # missing outcome values drop that person-week for that outcome only
rows$z[sample(n, 4)] <- NA
write_full(rows, "effects_panel.csv")

# ---- cluster-randomised panel ---------------------------------------------------------------------
G <- 24
csize <- sample(2:9, G, replace = TRUE)
carm <- sample(rep(c(1, 0), G / 2))
cl <- rep(sprintf("c%02d", 1:G), csize)
pc <- sprintf("q%03d", seq_along(cl))
ca <- rep(carm, csize)
ce <- rep(rnorm(G), csize)
lastc <- sample(1:3, length(cl), replace = TRUE, prob = c(0.1, 0.2, 0.7))
crow <- do.call(rbind, lapply(1:3, function(w) {
  keep <- lastc >= w
  data.frame(person_id = pc[keep], arm = ifelse(ca[keep] == 1, "treatment", "control"), week = w,
             cluster = cl[keep], ce = ce[keep], stringsAsFactors = FALSE)
}))
crow$y <- 5 + crow$ce + (crow$arm == "treatment") * 0.8 + rnorm(nrow(crow))
crow$z <- as.numeric(runif(nrow(crow)) < 0.3 + 0.1 * (crow$arm == "treatment"))
crow$ce <- NULL
write_full(crow, "effects_panel_clustered.csv")

# ---- reference values, computed on the files as read back ---------------------------------------
panel <- read.csv(file.path(dir, "effects_panel.csv"), stringsAsFactors = FALSE)
cpanel <- read.csv(file.path(dir, "effects_panel_clustered.csv"), stringsAsFactors = FALSE)
out <- list()
dropped <- list()
tidy_row <- function(design, outcome, week, fit) {
  data.frame(design = design, outcome = outcome, week = week, estimate = unname(fit$coefficients[1]),
             std_error = unname(fit$std.error[1]), df = unname(fit$df[1]), ci_low = unname(fit$conf.low[1]),
             ci_high = unname(fit$conf.high[1]), p_value = unname(fit$p.value[1]), n = fit$nobs,
             stringsAsFactors = FALSE)
}
for (outcome in c("y", "z")) {
  for (w in 1:3) {
    d <- panel[panel$week == w & !is.na(panel[[outcome]]), ]
    d$t <- as.numeric(d$arm == "treatment")
    d$yy <- d[[outcome]]
    out[[length(out) + 1]] <- tidy_row("plain", outcome, w, difference_in_means(yy ~ t, data = d))
    tt <- t.test(d$yy[d$t == 1], d$yy[d$t == 0], var.equal = FALSE)
    out[[length(out) + 1]] <- data.frame(design = "t.test", outcome = outcome, week = w,
      estimate = unname(tt$estimate[1] - tt$estimate[2]), std_error = unname(tt$stderr),
      df = unname(tt$parameter), ci_low = tt$conf.int[1], ci_high = tt$conf.int[2], p_value = tt$p.value,
      n = nrow(d), stringsAsFactors = FALSE)
    # blocked: estimatr stops when a block has < 2 persons in an arm; trialeval drops such block-weeks
    nt <- tapply(d$t, d$block, sum)
    nc <- tapply(1 - d$t, d$block, sum)
    bad <- names(nt)[nt < 2 | nc < 2]
    if (length(bad)) dropped[[length(dropped) + 1]] <- data.frame(outcome = outcome, week = w, block = bad,
                                                                  stringsAsFactors = FALSE)
    db <- d[!(d$block %in% bad), ]
    out[[length(out) + 1]] <- tidy_row("blocked", outcome, w, difference_in_means(yy ~ t, blocks = block, data = db))
    fl <- lm_lin(yy ~ t, covariates = ~ x1 + x2, data = d)
    r <- tidy_row("lin", outcome, w, list(coefficients = fl$coefficients["t"], std.error = fl$std.error["t"],
                  df = fl$df["t"], conf.low = fl$conf.low["t"], conf.high = fl$conf.high["t"],
                  p.value = fl$p.value["t"], nobs = fl$nobs))
    out[[length(out) + 1]] <- r
    dc <- cpanel[cpanel$week == w & !is.na(cpanel[[outcome]]), ]
    dc$t <- as.numeric(dc$arm == "treatment")
    dc$yy <- dc[[outcome]]
    out[[length(out) + 1]] <- tidy_row("clustered", outcome, w,
                                       difference_in_means(yy ~ t, clusters = cluster, data = dc))
  }
}
write_full(do.call(rbind, out), "effects_reference.csv")
write_full(do.call(rbind, dropped), "effects_dropped_blocks.csv")
cat("estimatr", as.character(packageVersion("estimatr")), "\n")
