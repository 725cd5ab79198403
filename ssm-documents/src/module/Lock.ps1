# The document lock: configure, verify and rollback take one named mutex for the whole time they read or
# change the box, so two documents never interleave on a beacon even when the SSM Agent runs them at once.
# Name, wait and busy code come from lambdas/core/document-contract.ts (DOCUMENT_LOCK, rendered into the
# document as $script:BpFacts.lock); the wait stays below every document's execution timeout.
# Runs on Windows PowerShell 5.1 and PowerShell 7.

function Enter-BpDocumentLock($Result) {
    $lock = Get-BpDocumentLock $script:BpFacts.lock
    $mutex = New-Object System.Threading.Mutex($false, [string]$lock.name)
    $taken = $false
    try { $taken = $mutex.WaitOne([TimeSpan]::FromSeconds([int]$lock.waitSeconds)) }
    catch [System.Threading.AbandonedMutexException] {
        # The previous holder ended without releasing (killed mid-run): the mutex is ours now. Whatever it
        # left half done is what this run reads; configure captures and verifies it like any other state.
        $taken = $true
        [void]$Result.warnings.Add('DOCUMENT_LOCK_ABANDONED: the previous document on this beacon ended without releasing ' + $lock.name + '; this run took it over')
    }
    if (-not $taken) {
        $mutex.Dispose()
        throw (New-BpError $script:BpFacts.lock.busyCode ('another beacon-proxy document held ' + $lock.name + ' for ' + $lock.waitSeconds + ' s; nothing was changed, send this document again later'))
    }
    return $mutex
}

function Exit-BpDocumentLock($Mutex) {
    try { $Mutex.ReleaseMutex() } finally { $Mutex.Dispose() }
}
