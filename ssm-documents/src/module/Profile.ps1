# Concern: the user profile of the account and its registry hive (loaded for the WinINet settings when needed).
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

function Get-BpProfileEntry($Entry) { return ($null -ne (Get-BpProfile $Entry.sid)) }

function Set-BpProfileEntry($Entry, $Value) {
    if ($Value) { New-BpProfile $Entry.sid $Entry.name; return }
    # Windows unloads the hive of an account a little after its last process (the service) stopped, and
    # DeleteProfile fails while it is loaded: wait for the unload (bounded), then retry the delete.
    $lastError = $null
    for ($attempt = 1; $attempt -le 3; $attempt++) {
        [void](Wait-BpHiveUnloaded $Entry.sid 30)
        try { Remove-BpProfile $Entry.sid; return } catch { $lastError = $_.Exception.Message; Wait-BpInterval 2 }
    }
    throw (New-BpError 'PROFILE_DELETE_FAILED' ('could not delete the profile of ' + $Entry.sid + ': ' + $lastError))
}

# Waits (at most $TimeoutSeconds) until HKU\<SID> is no longer loaded; returns whether it is unloaded.
function Wait-BpHiveUnloaded([string]$Sid, [int]$TimeoutSeconds) {
    for ($waited = 0; $waited -lt $TimeoutSeconds; $waited++) {
        $userProfile = Get-BpProfile $Sid
        if ($null -eq $userProfile -or -not $userProfile.loaded) { return $true }
        Wait-BpInterval 1
    }
    return $false
}

function Invoke-BpWithHive([string]$Sid, [scriptblock]$HiveAction) {
    if (-not $Sid) { & $HiveAction; return }
    $userProfile = Get-BpProfile $Sid
    if ($null -eq $userProfile) { throw (New-BpError 'PROFILE_NOT_FOUND' ('the account ' + $Sid + ' has no user profile, so its WinINet settings cannot be read')) }
    $mounted = $false
    if (-not $userProfile.loaded) { Mount-BpUserHive $Sid $userProfile.path; $mounted = $true }
    try { & $HiveAction }
    finally { if ($mounted) { Dismount-BpUserHiveWithRetry $Sid } }
}

# Unloading fails while handles are still open: collect garbage and retry a few times.
function Dismount-BpUserHiveWithRetry([string]$Sid) {
    $lastError = $null
    for ($attempt = 1; $attempt -le 5; $attempt++) {
        [System.GC]::Collect()
        [System.GC]::WaitForPendingFinalizers()
        try { Dismount-BpUserHive $Sid; return } catch { $lastError = $_.Exception.Message; Wait-BpInterval 1 }
    }
    throw (New-BpError 'HIVE_UNLOAD_FAILED' ('could not unload the hive of ' + $Sid + ': ' + $lastError))
}
